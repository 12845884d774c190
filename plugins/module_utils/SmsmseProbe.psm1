# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy
#AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative
#AnsibleRequires -PowerShell ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseStore

# The probe operation on Windows: every candidate store (listing, definfo.dat, free space, and with
# hashing each file's SHA-256 through the hash cache), the product from the registry and its events
# from the Application log, in one call. It reports; the controller decides.

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$script:Native = [ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative.Native]
$script:PrivateFolder = [ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative.PrivateFolder]
$script:Text = [ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy.Text]
$script:Wire = [ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy.Wire]
$script:Listing = [ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy.Listing]
$script:ProductSource = 'Symantec Mail Security for Microsoft Exchange'
$script:UninstallKey = 'SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall'
#: what makes an Uninstall entry or a service relevant to the controller's pick, and how many of each are listed
$script:RelevantWords = @('Symantec', 'Mail Security', 'SMSMSE')
$script:MaxListed = 256
#: the longest text the probe reply's schema accepts for an event message or an error
$script:MaxText = 2048
$script:MaxEventMessage = 4096
#: the reply schema's bounds on a store's listing: folders and files listed, a folder's name, a
#: file's relative path, names of the folders left out
$script:MaxEntries = 4096
$script:MaxName = 260
$script:MaxPath = 1024
$script:MaxOmittedNames = 32
#: a definfo.dat larger than the limit is still hashed up to this size, so that a change can replace it
$script:MaxDefinfoHash = 16777216

Function Expand-Template {
    # %VAR% expanded from this process's environment; an unset variable stays as written.
    param([string]$Template)
    return [System.Text.RegularExpressions.Regex]::Replace($Template, '%([^%]+)%', {
            param($match)
            $value = [System.Environment]::GetEnvironmentVariable($match.Groups[1].Value)
            if ($null -eq $value) { return $match.Value }
            return $value
        })
}

Function Get-TemplateVariable {
    param([string]$Template)
    $names = New-Object -TypeName 'System.Collections.Generic.List[string]'
    foreach ($match in [System.Text.RegularExpressions.Regex]::Matches($Template, '%([^%]+)%')) {
        $names.Add($match.Groups[1].Value)
    }
    return , $names
}

Function Set-WireName {
    # $Record[$Field] = $Name as the reply can carry it: an unpaired UTF-16 surrogate (not text, it
    # would reach the controller as another name) is sent escaped, a name over $Limit characters
    # is shortened, and either way the record is marked escaped, never to be used as a name.
    param([hashtable]$Record, [string]$Field, [string]$Name, [int]$Limit)
    $wire = $script:Wire::Escape($Name, $Limit)
    $Record[$Field] = $wire.Text
    if ($wire.Escaped) { $Record.escaped = $true }
}

Function Format-ProbeError {
    # An exception as the reply carries it: the innermost one (PowerShell wraps .NET's), a file
    # name in its message escaped like any name, within the schema's length.
    param([System.Exception]$Exception)
    $inner = $Exception
    while ($null -ne $inner.InnerException) { $inner = $inner.InnerException }
    return $script:Wire::Message(('{0}: {1}' -f $inner.GetType().Name, $inner.Message), $script:MaxText)
}

Function New-FileRecord {
    param([System.IO.FileSystemInfo]$Item, [string]$RelativePath, [object]$Cache = $null)
    $size = 0
    if ($Item -is [System.IO.FileInfo]) { $size = [long]$Item.Length }
    $isLink = Test-ReparsePoint -Item $Item
    $record = @{
        size = $size
        mtime = ConvertTo-UnixTime -Time $Item.LastWriteTimeUtc
        link = $isLink
    }
    Set-WireName -Record $record -Field 'path' -Name $RelativePath -Limit $script:MaxPath
    if ($null -ne $Cache) {
        $record.sha256 = $null
        if (($Item -is [System.IO.FileInfo]) -and -not $isLink) {
            $digest = Get-FileDigest -Cache $Cache -Path $Item.FullName
            $record.sha256 = $digest.sha256
            if ($digest.changed) { $record.changed = $true }
        }
    }
    return $record
}

Function New-FolderRecord {
    # One folder of a store: a junction or link is reported, never entered; a folder that cannot
    # be listed carries its error and no files (the set cannot be verified, the others still are).
    param([System.IO.DirectoryInfo]$Item, [hashtable]$Limits, [object]$Cache)
    $record = @{
        link = Test-ReparsePoint -Item $Item
        mtime = ConvertTo-UnixTime -Time $Item.LastWriteTimeUtc
        files = New-Object -TypeName 'System.Collections.Generic.List[object]'
        truncated = $false
    }
    Set-WireName -Record $record -Field 'name' -Name $Item.Name -Limit $script:MaxName
    if ($record.link) { return $record }
    try {
        $listing = Get-RelativeFile -Top $Item -Limit $Limits.max_files_per_dir
        $files = New-Object -TypeName 'System.Collections.Generic.List[object]'
        foreach ($file in $listing.files) { $files.Add((New-FileRecord -Item $file.item -RelativePath $file.path -Cache $Cache)) }
        $record.files = $files
        $record.truncated = [bool]$listing.truncated
    }
    catch {
        $record.error = Format-ProbeError -Exception $_.Exception
    }
    return $record
}

Function Read-Definfo {
    # definfo.dat as the reply carries it, never following a link: kind from its own attributes (a
    # reparse point is a link, a folder is dir), then one shared handle on the entry itself. A
    # regular file's digest also when it is too large to carry (up to MaxDefinfoHash), so that a
    # change can expect it and replace it.
    param([string]$Path, [long]$MaxBytes)
    $record = @{ present = $false; size = $null; sha256 = $null; content_b64 = $null }
    $read = $script:Native::ReadDefinfo($Path, [int]$MaxBytes, $script:MaxDefinfoHash)
    if ($null -eq $read) { return $record }
    $record.present = $true
    $record.kind = $read.Kind
    $record.size = [long]$read.Size
    $record.sha256 = $read.Sha256
    if ($null -ne $read.Content) { $record.content_b64 = [System.Convert]::ToBase64String($read.Content) }
    return $record
}

Function Get-FreeByte {
    # GetDiskFreeSpaceEx on the folder itself: right for mount points and UNC paths.
    param([string]$Path)
    try {
        return $script:Native::FreeBytes($Path)
    }
    catch {
        return $null
    }
}

Function Get-FolderPrivacy {
    # Who besides SYSTEM, the Administrators and TrustedInstaller could change $Path (StorePolicy.Privacy):
    # a reparse point at any level, an untrusted owner at any level, an allow-ACE granting write, create or
    # delete-child on the folder (or delete on a parent). Reported; the preflight refuses on it.
    param([string]$Path)
    $record = @{ path = $script:Wire::Message($Path, 1024); private = $null; problems = New-Object -TypeName 'System.Collections.Generic.List[object]'; error = $null }
    try {
        $found = $script:PrivateFolder::Problems($Path, $false)
        $record.private = ($found.Count -eq 0)
        foreach ($problem in $found) {
            if ($record.problems.Count -ge 32) { break }
            $account = $null
            if ($null -ne $problem.Sid) { $account = $script:Wire::Message($script:PrivateFolder::AccountOf($problem.Sid), 256) }
            $record.problems.Add(@{
                    path = $script:Wire::Message($problem.Path, 1024)
                    kind = $problem.Kind
                    account = $account
                    rights = $problem.Rights
                })
        }
    }
    catch {
        $record.error = Format-ProbeError -Exception $_.Exception
    }
    return $record
}

Function Get-Store {
    param([string]$Name, [string]$Template, [hashtable]$Limits, [string]$Definfo, [string]$Usage, [object]$Hashing = $null, [bool]$CreateCache = $true)
    $path = Expand-Template -Template $Template
    $store = @{
        name = $Name
        template = $Template
        path = $path
        exists = [System.IO.Directory]::Exists($path)
        error = $null
        free_bytes = $null
        definfo = @{ present = $false; size = $null; sha256 = $null; content_b64 = $null }
        dirs = New-Object -TypeName 'System.Collections.Generic.List[object]'
        files = New-Object -TypeName 'System.Collections.Generic.List[object]'
    }
    if (-not $store.exists) { return $store }
    $store.privacy = Get-FolderPrivacy -Path $path
    # the default quarantine destination is created in the store's parent: who could create it first
    $parent = [System.IO.Path]::GetDirectoryName($path)
    if (-not [string]::IsNullOrEmpty($parent)) { $store.quarantine_parent = Get-FolderPrivacy -Path $parent }
    $cache = $null
    if ($null -ne $Hashing) {
        $maxAge = [long](Get-Field -Map $Hashing -Name 'max_age_seconds' -Default (Get-DefaultMaxAge))
        $cache = New-HashCache -CacheDir ([string](Get-Field -Map $Hashing -Name 'cache_dir' -Default '')) -StorePath $path -UseCached (-not [bool]$Hashing.deep) -MaxAge $maxAge -Create $CreateCache
    }
    try {
        $store.free_bytes = Get-FreeByte -Path $path
        $store.definfo = Read-Definfo -Path ([System.IO.Path]::Combine($path, $Definfo)) -MaxBytes $Limits.max_definfo_bytes
        # usage.dat of a shared Hawking store, read like definfo.dat; sent only when present (the controller parses it)
        $usageFile = Read-Definfo -Path ([System.IO.Path]::Combine($path, $Usage)) -MaxBytes $Limits.max_definfo_bytes
        if ($usageFile.present) { $store.usage = $usageFile }
        $top = New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $path
        $folders = New-Object -TypeName 'System.Collections.Generic.List[System.IO.DirectoryInfo]'
        $files = New-Object -TypeName 'System.Collections.Generic.List[System.IO.FileSystemInfo]'
        foreach ($item in (Get-SortedChild -Folder $top)) {
            if ($item -is [System.IO.DirectoryInfo]) { $folders.Add($item) } else { $files.Add($item) }
        }
        # more than the reply lists: sets first, newest first; what is left out is counted and named
        $names = New-Object -TypeName 'string[]' -ArgumentList $folders.Count
        for ($i = 0; $i -lt $folders.Count; $i++) { $names[$i] = $folders[$i].Name }
        $bounded = $script:Listing::Bound($names, $script:MaxEntries)
        foreach ($index in $bounded.Kept) {
            $store.dirs.Add((New-FolderRecord -Item $folders[$index] -Limits $Limits -Cache $cache))
        }
        for ($i = 0; $i -lt [Math]::Min($files.Count, $script:MaxEntries); $i++) {
            $store.files.Add((New-FileRecord -Item $files[$i] -RelativePath $files[$i].Name))
        }
        if ($bounded.Omitted.Length -gt 0 -or $files.Count -gt $script:MaxEntries) {
            $omittedNames = New-Object -TypeName 'System.Collections.Generic.List[string]'
            foreach ($index in $bounded.Omitted) {
                if ($omittedNames.Count -ge $script:MaxOmittedNames) { break }
                $omittedNames.Add($script:Wire::Escape($folders[$index].Name, $script:MaxName).Text)
            }
            $store.omitted = @{
                dirs = $bounded.Omitted.Length
                files = [Math]::Max(0, $files.Count - $script:MaxEntries)
                names = $omittedNames
            }
        }
    }
    catch {
        $store.error = Format-ProbeError -Exception $_.Exception
    }
    if ($null -ne $cache) {
        Save-HashCache -Cache $cache
        $cacheError = $null
        if ($null -ne $cache.error) { $cacheError = $script:Text::Head([string]$cache.error, $script:MaxText) }
        $store.hash_stats = @{
            files_hashed = $cache.stats.files_hashed
            bytes_hashed = $cache.stats.bytes_hashed
            files_cached = $cache.stats.files_cached
            bytes_cached = $cache.stats.bytes_cached
            cache_error = $cacheError
        }
    }
    return $store
}

Function Get-Product {
    # SMSMSE from the Uninstall keys, in the 64-bit and the 32-bit registry views. A subkey that cannot
    # be read (permissions, a broken entry) is skipped, never the end of the search.
    $hive = [Microsoft.Win32.RegistryHive]::LocalMachine
    foreach ($view in @([Microsoft.Win32.RegistryView]::Registry64, [Microsoft.Win32.RegistryView]::Registry32)) {
        $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($hive, $view)
        try {
            $uninstall = $base.OpenSubKey($script:UninstallKey)
            if ($null -eq $uninstall) { continue }
            $subNames = @($uninstall.GetSubKeyNames())
            [System.Array]::Sort($subNames, [System.StringComparer]::Ordinal)
            foreach ($subName in $subNames) {
                try {
                    $sub = $uninstall.OpenSubKey($subName)
                    if ($null -eq $sub) { continue }
                    try {
                        $displayName = [string]$sub.GetValue('DisplayName', '')
                        $displayVersion = [string]$sub.GetValue('DisplayVersion', '')
                    }
                    finally {
                        $sub.Close()
                    }
                }
                catch {
                    continue
                }
                if ($displayName.StartsWith('Symantec Mail Security for Microsoft Exchange', [System.StringComparison]::OrdinalIgnoreCase)) {
                    # within the reply schema's lengths: a registry value is whatever an installer wrote
                    return @{
                        name = $script:Text::Head($displayName, 256)
                        version = $script:Text::Head($displayVersion, 64)
                        source = $script:Text::Head(('HKLM\{0}\{1} ({2})' -f $script:UninstallKey, $subName, $view), 512)
                    }
                }
            }
        }
        finally {
            $base.Close()
        }
    }
    return $null
}

Function Get-InstalledListing {
    # The raw listings the controller picks the product and its service from (it decides, not this):
    # Uninstall entries of both registry views whose DisplayName mentions Symantec or Mail Security,
    # and the services whose name, display name or binary path does. An entry that cannot be read is
    # skipped; every text is cut to the reply schema's lengths.
    $uninstall = New-Object -TypeName 'System.Collections.Generic.List[object]'
    $hive = [Microsoft.Win32.RegistryHive]::LocalMachine
    $views = @(@{ view = '64'; value = [Microsoft.Win32.RegistryView]::Registry64 }, @{ view = '32'; value = [Microsoft.Win32.RegistryView]::Registry32 })
    foreach ($view in $views) {
        $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($hive, $view.value)
        try {
            $keys = $base.OpenSubKey($script:UninstallKey)
            if ($null -eq $keys) { continue }
            foreach ($subName in @($keys.GetSubKeyNames())) {
                if ($uninstall.Count -ge $script:MaxListed) { break }
                try {
                    $sub = $keys.OpenSubKey($subName)
                    if ($null -eq $sub) { continue }
                    try {
                        $displayName = [string]$sub.GetValue('DisplayName', '')
                        if (-not (Test-Relevant -Text $displayName)) { continue }
                        $uninstall.Add(@{
                                view = $view.view
                                key = $script:Text::Head($subName, 256)
                                display_name = $script:Text::Head($displayName, 512)
                                display_version = $script:Text::Head([string]$sub.GetValue('DisplayVersion', ''), 64)
                                install_location = $script:Text::Head([string]$sub.GetValue('InstallLocation', ''), 1024)
                            })
                    }
                    finally {
                        $sub.Close()
                    }
                }
                catch {
                    continue
                }
            }
        }
        finally {
            $base.Close()
        }
    }
    $services = New-Object -TypeName 'System.Collections.Generic.List[object]'
    try {
        $found = @(Get-CimInstance -ClassName Win32_Service -ErrorAction Stop)
    }
    catch {
        $found = @()
    }
    foreach ($service in $found) {
        if ($services.Count -ge $script:MaxListed) { break }
        $name = [string]$service.Name
        $display = [string]$service.DisplayName
        $binary = [string]$service.PathName
        if (-not ((Test-Relevant -Text $name) -or (Test-Relevant -Text $display) -or (Test-Relevant -Text $binary))) { continue }
        $services.Add(@{
                name = $script:Text::Head($name, 256)
                display_name = $script:Text::Head($display, 512)
                binary_path = $script:Text::Head($binary, 2048)
                state = $script:Text::Head([string]$service.State, 32)
            })
    }
    return @{ uninstall = $uninstall; services = $services }
}

Function Test-Relevant {
    param([string]$Text)
    if ([string]::IsNullOrEmpty($Text)) { return $false }
    foreach ($word in $script:RelevantWords) {
        if ($Text.IndexOf($word, [System.StringComparison]::OrdinalIgnoreCase) -ge 0) { return $true }
    }
    return $false
}

Function Get-ProductEvent {
    param([int[]]$Ids, [int]$Hours, [int]$Limit)
    $events = New-Object -TypeName 'System.Collections.Generic.List[object]'
    if ($Limit -le 0 -or $Ids.Count -eq 0) { return @{ events = $events; error = $null } }
    $filter = @{
        LogName = 'Application'
        ProviderName = $script:ProductSource
        Id = $Ids
        StartTime = (Get-Date).AddHours(-$Hours)
    }
    try {
        $found = @(Get-WinEvent -FilterHashtable $filter -MaxEvents $Limit -ErrorAction Stop)
    }
    catch {
        # no events in the window, or the product's event source is not registered on this host: no events
        $id = [string]$_.FullyQualifiedErrorId
        if ($id -like 'NoMatchingEventsFound*' -or $id -like 'NoMatchingProvidersFound*') {
            return @{ events = $events; error = $null }
        }
        return @{ events = $events; error = $script:Text::Head(('cannot read the Application log: {0}' -f $_.Exception.Message), $script:MaxText) }
    }
    foreach ($entry in $found) {
        $events.Add(@{
                id = [int]$entry.Id
                time = $entry.TimeCreated.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", [System.Globalization.CultureInfo]::InvariantCulture)
                message = $script:Text::Head([string]$entry.Message, $script:MaxEventMessage)
            })
    }
    return @{ events = $events; error = $null }
}

Function Get-HostRecord {
    param([object[]]$Stores)
    $variables = @{}
    foreach ($store in $Stores) {
        foreach ($name in (Get-TemplateVariable -Template ([string]$store.template))) {
            $variables[$name] = [System.Environment]::GetEnvironmentVariable($name)
        }
    }
    $arch = 'x86'
    if ([System.Environment]::Is64BitOperatingSystem) { $arch = 'amd64' }
    return @{
        os = 'windows'
        os_version = [System.Environment]::OSVersion.Version.ToString()
        arch = $arch
        hostname = [System.Environment]::MachineName
        env = $variables
    }
}

Function Invoke-Probe {
    # $CheckMode: the hash cache folder is neither created nor its permissions changed.
    param([System.Collections.IDictionary]$Request, [bool]$CheckMode = $false)
    $limits = @{
        max_files_per_dir = [int]$Request.limits.max_files_per_dir
        max_definfo_bytes = [long]$Request.limits.max_definfo_bytes
        max_events = [int]$Request.limits.max_events
    }
    # product and events_file describe POSIX hosts; Windows reads the registry and the Application log
    $null = Get-Field -Map $Request -Name 'product'
    $null = Get-Field -Map $Request -Name 'events_file'
    $hashing = Get-Field -Map $Request -Name 'hashing'
    # the pointer's name from the request's wire constants once the probe request carries them
    $definfo = [string](Get-Field -Map (Get-Field -Map $Request -Name 'wire') -Name 'definfo' -Default 'definfo.dat')
    $usageName = [string](Get-Field -Map (Get-Field -Map $Request -Name 'wire') -Name 'usage' -Default 'usage.dat')
    $stores = New-Object -TypeName 'System.Collections.Generic.List[object]'
    foreach ($candidate in @($Request.stores)) {
        $stores.Add((Get-Store -Name ([string]$candidate.name) -Template ([string]$candidate.template) -Limits $limits -Definfo $definfo -Usage $usageName -Hashing $hashing -CreateCache (-not $CheckMode)))
    }
    $ids = [int[]]@($Request.event_ids | ForEach-Object { [int]$_ })
    $eventResult = Get-ProductEvent -Ids $ids -Hours ([int]$Request.event_hours) -Limit $limits.max_events
    return @{
        contract = 1
        op = 'probe'
        host = Get-HostRecord -Stores @($Request.stores)
        product = Get-Product
        installed = Get-InstalledListing
        stores = $stores
        events = $eventResult.events
        events_error = $eventResult.error
    }
}

Export-ModuleMember -Function Invoke-Probe
