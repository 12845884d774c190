#!powershell

# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.FileIdentity

# The target half of the mailsec.smsmse.defs_* modules on Windows hosts.
# One operation of the agent contract (schemas/agent/*.json) per call. It reports
# what it finds; every decision is made on the controller. Windows PowerShell 5.1
# and .NET Framework 4.x only: no PowerShell 7 syntax or APIs.

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$spec = @{
    options = @{
        op = @{ type = 'str'; required = $true; choices = @('probe') }
        request = @{ type = 'dict'; required = $true }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$Contract = 1
$ProductSource = 'Symantec Mail Security for Microsoft Exchange'
$UninstallKey = 'SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall'
$Epoch = New-Object -TypeName System.DateTime -ArgumentList 1970, 1, 1, 0, 0, 0, ([System.DateTimeKind]::Utc)
$ReparsePoint = [System.IO.FileAttributes]::ReparsePoint
$HashBuffer = 1048576
$CacheVersion = 1

Function ConvertTo-UnixTime {
    param([System.DateTime]$Time)
    return [Math]::Round(($Time.ToUniversalTime() - $Epoch).TotalSeconds, 6)
}

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

Function Test-ReparsePoint {
    param([System.IO.FileSystemInfo]$Item)
    return ([int]($Item.Attributes -band $ReparsePoint) -ne 0)
}

Function ConvertTo-Hex {
    param([byte[]]$Bytes)
    return ([System.BitConverter]::ToString($Bytes) -replace '-', '').ToLowerInvariant()
}

Function New-HashCache {
    # The hash cache of one store: path -> (size, mtime ticks, file id, sha256), one JSON file per store.
    param([string]$CacheDir, [string]$StorePath, [bool]$UseCached)
    if ([string]::IsNullOrEmpty($CacheDir)) {
        $CacheDir = [System.IO.Path]::Combine([System.Environment]::GetFolderPath('CommonApplicationData'), 'mailsec-smsmse', 'hashes')
    }
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try {
        $name = (ConvertTo-Hex -Bytes $sha.ComputeHash([System.Text.Encoding]::UTF8.GetBytes($StorePath))).Substring(0, 32)
    }
    finally {
        $sha.Dispose()
    }
    $cache = @{
        path = [System.IO.Path]::Combine($CacheDir, $name + '.json')
        use_cached = $UseCached
        entries = @{}
        seen = @{}
        error = $null
        stats = @{ files_hashed = [long]0; bytes_hashed = [long]0; files_cached = [long]0; bytes_cached = [long]0 }
    }
    if ([System.IO.File]::Exists($cache.path)) {
        try {
            $loaded = [Ansible.Basic.AnsibleModule]::FromJson([System.IO.File]::ReadAllText($cache.path))
            if (($loaded -is [System.Collections.IDictionary]) -and ($loaded['version'] -eq $CacheVersion) -and ($loaded['entries'] -is [System.Collections.IDictionary])) {
                $cache.entries = $loaded['entries']
            }
        }
        catch {
            $cache.error = 'cache {0} unreadable, rebuilt: {1}' -f $cache.path, $_.Exception.Message
        }
    }
    return $cache
}

Function Get-FileDigest {
    # SHA-256 of a file, from the cache while its size, mtime and file ID are unchanged; $null when unreadable.
    param([hashtable]$Cache, [System.IO.FileInfo]$File)
    try {
        $stream = New-Object -TypeName System.IO.FileStream -ArgumentList @(
            $File.FullName, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read,
            [System.IO.FileShare]::Read, $HashBuffer, [System.IO.FileOptions]::SequentialScan)
    }
    catch {
        return $null
    }
    try {
        $id = [ansible_collections.mailsec.smsmse.plugins.module_utils.FileIdentity.FileId]::Get($stream)
        $size = [long]$stream.Length
        $ticks = [long]$File.LastWriteTimeUtc.Ticks
        $key = $File.FullName
        if ($Cache.use_cached -and $Cache.entries.ContainsKey($key)) {
            $cached = @($Cache.entries[$key])
            if ($cached.Count -eq 4 -and [long]$cached[0] -eq $size -and [long]$cached[1] -eq $ticks -and [string]$cached[2] -eq $id) {
                $Cache.stats.files_cached += 1
                $Cache.stats.bytes_cached += $size
                $Cache.seen[$key] = @($size, $ticks, $id, [string]$cached[3])
                return [string]$cached[3]
            }
        }
        $sha = [System.Security.Cryptography.SHA256]::Create()
        try {
            $digest = ConvertTo-Hex -Bytes $sha.ComputeHash($stream)
        }
        finally {
            $sha.Dispose()
        }
        $Cache.stats.files_hashed += 1
        $Cache.stats.bytes_hashed += $size
        $Cache.seen[$key] = @($size, $ticks, $id, $digest)
        return $digest
    }
    catch {
        return $null
    }
    finally {
        $stream.Dispose()
    }
}

Function Save-HashCache {
    # Keep what this run saw; a failure is reported, never fatal.
    param([hashtable]$Cache)
    try {
        $folder = [System.IO.Path]::GetDirectoryName($Cache.path)
        [void][System.IO.Directory]::CreateDirectory($folder)
        $tmp = [System.IO.Path]::Combine($folder, ('.hashes-{0}.tmp' -f [System.Guid]::NewGuid().ToString('N')))
        $json = [Ansible.Basic.AnsibleModule]::ToJson(@{ version = $CacheVersion; entries = $Cache.seen })
        [System.IO.File]::WriteAllText($tmp, $json, (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false))
        if ([System.IO.File]::Exists($Cache.path)) {
            [System.IO.File]::Replace($tmp, $Cache.path, [NullString]::Value)
        }
        else {
            [System.IO.File]::Move($tmp, $Cache.path)
        }
    }
    catch {
        $Cache.error = 'cache {0} not saved: {1}' -f $Cache.path, $_.Exception.Message
    }
}

Function New-FileRecord {
    param([System.IO.FileSystemInfo]$Item, [string]$RelativePath, [object]$Cache = $null)
    $size = 0
    if ($Item -is [System.IO.FileInfo]) { $size = [long]$Item.Length }
    $isLink = Test-ReparsePoint -Item $Item
    $record = @{
        path = $RelativePath
        size = $size
        mtime = ConvertTo-UnixTime -Time $Item.LastWriteTimeUtc
        link = $isLink
    }
    if ($null -ne $Cache) {
        $record.sha256 = $null
        if (($Item -is [System.IO.FileInfo]) -and -not $isLink) {
            $record.sha256 = Get-FileDigest -Cache $Cache -File $Item
        }
    }
    return $record
}

Function Get-FileList {
    # Every file below $Top, '/' separated; reparse points are reported, never followed.
    param([System.IO.DirectoryInfo]$Top, [int]$Limit, [object]$Cache = $null)
    $files = New-Object -TypeName 'System.Collections.Generic.List[object]'
    $pending = New-Object -TypeName 'System.Collections.Generic.Stack[object]'
    $pending.Push(@($Top, ''))
    while ($pending.Count -gt 0) {
        $current = $pending.Pop()
        $children = @($current[0].GetFileSystemInfos() | Sort-Object -Property Name)
        foreach ($child in $children) {
            $relative = $child.Name
            if ($current[1] -ne '') { $relative = $current[1] + '/' + $child.Name }
            if (($child -is [System.IO.DirectoryInfo]) -and -not (Test-ReparsePoint -Item $child)) {
                $pending.Push(@($child, $relative))
                continue
            }
            if ($files.Count -ge $Limit) {
                return @{ files = $files; truncated = $true }
            }
            $files.Add((New-FileRecord -Item $child -RelativePath $relative -Cache $Cache))
        }
    }
    return @{ files = $files; truncated = $false }
}

Function Read-Definfo {
    param([string]$Path, [long]$MaxBytes)
    $record = @{ present = $false; size = $null; sha256 = $null; content_b64 = $null }
    $info = New-Object -TypeName System.IO.FileInfo -ArgumentList $Path
    if (-not $info.Exists) { return $record }
    $record.present = $true
    $record.size = [long]$info.Length
    if ((Test-ReparsePoint -Item $info) -or $info.Length -gt $MaxBytes) { return $record }
    $bytes = [System.IO.File]::ReadAllBytes($Path)
    $record.size = [long]$bytes.Length
    if ($bytes.Length -gt $MaxBytes) { return $record }
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try {
        $record.sha256 = ([System.BitConverter]::ToString($sha.ComputeHash($bytes)) -replace '-', '').ToLowerInvariant()
    }
    finally {
        $sha.Dispose()
    }
    $record.content_b64 = [System.Convert]::ToBase64String($bytes)
    return $record
}

Function Get-FreeByte {
    param([string]$Path)
    try {
        $root = [System.IO.Path]::GetPathRoot($Path)
        $drive = New-Object -TypeName System.IO.DriveInfo -ArgumentList $root
        return [long]$drive.AvailableFreeSpace
    }
    catch {
        return $null
    }
}

Function Get-Store {
    param([string]$Name, [string]$Template, [hashtable]$Limits, [object]$Hashing = $null)
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
    $cache = $null
    if ($null -ne $Hashing) {
        $cache = New-HashCache -CacheDir ([string]$Hashing.cache_dir) -StorePath $path -UseCached (-not [bool]$Hashing.deep)
    }
    try {
        $store.free_bytes = Get-FreeByte -Path $path
        $store.definfo = Read-Definfo -Path ([System.IO.Path]::Combine($path, 'definfo.dat')) -MaxBytes $Limits.max_definfo_bytes
        $top = New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $path
        foreach ($item in @($top.GetFileSystemInfos() | Sort-Object -Property Name)) {
            if ($item -is [System.IO.DirectoryInfo]) {
                $isLink = Test-ReparsePoint -Item $item
                $listing = @{ files = New-Object -TypeName 'System.Collections.Generic.List[object]'; truncated = $false }
                if (-not $isLink) { $listing = Get-FileList -Top $item -Limit $Limits.max_files_per_dir -Cache $cache }
                $store.dirs.Add(@{
                        name = $item.Name
                        link = $isLink
                        mtime = ConvertTo-UnixTime -Time $item.LastWriteTimeUtc
                        files = $listing.files
                        truncated = $listing.truncated
                    })
            }
            else {
                $store.files.Add((New-FileRecord -Item $item -RelativePath $item.Name))
            }
        }
    }
    catch {
        $store.error = '{0}: {1}' -f $_.Exception.GetType().Name, $_.Exception.Message
    }
    if ($null -ne $cache) {
        Save-HashCache -Cache $cache
        $store.hash_stats = @{
            files_hashed = $cache.stats.files_hashed
            bytes_hashed = $cache.stats.bytes_hashed
            files_cached = $cache.stats.files_cached
            bytes_cached = $cache.stats.bytes_cached
            cache_error = $cache.error
        }
    }
    return $store
}

Function Get-Product {
    # SMSMSE from the Uninstall keys, in the 64-bit and the 32-bit registry views.
    $hive = [Microsoft.Win32.RegistryHive]::LocalMachine
    foreach ($view in @([Microsoft.Win32.RegistryView]::Registry64, [Microsoft.Win32.RegistryView]::Registry32)) {
        $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($hive, $view)
        try {
            $uninstall = $base.OpenSubKey($UninstallKey)
            if ($null -eq $uninstall) { continue }
            foreach ($subName in $uninstall.GetSubKeyNames()) {
                $sub = $uninstall.OpenSubKey($subName)
                if ($null -eq $sub) { continue }
                $displayName = [string]$sub.GetValue('DisplayName', '')
                $displayVersion = [string]$sub.GetValue('DisplayVersion', '')
                $sub.Close()
                if ($displayName -like 'Symantec Mail Security for Microsoft Exchange*') {
                    return @{
                        name = $displayName
                        version = $displayVersion
                        source = 'HKLM\{0}\{1} ({2})' -f $UninstallKey, $subName, $view
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

Function Get-ProductEvent {
    param([int[]]$Ids, [int]$Hours, [int]$Limit)
    $events = New-Object -TypeName 'System.Collections.Generic.List[object]'
    if ($Limit -le 0 -or $Ids.Count -eq 0) { return @{ events = $events; error = $null } }
    $filter = @{
        LogName = 'Application'
        ProviderName = $ProductSource
        Id = $Ids
        StartTime = (Get-Date).AddHours(-$Hours)
    }
    try {
        $found = @(Get-WinEvent -FilterHashtable $filter -MaxEvents $Limit -ErrorAction Stop)
    }
    catch {
        if ($_.FullyQualifiedErrorId -like 'NoMatchingEventsFound*') {
            return @{ events = $events; error = $null }
        }
        return @{ events = $events; error = 'cannot read the Application log: {0}' -f $_.Exception.Message }
    }
    foreach ($entry in $found) {
        $message = [string]$entry.Message
        if ($message.Length -gt 4096) { $message = $message.Substring(0, 4096) }
        $events.Add(@{
                id = [int]$entry.Id
                time = $entry.TimeCreated.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", [System.Globalization.CultureInfo]::InvariantCulture)
                message = $message
            })
    }
    return @{ events = $events; error = $null }
}

Function Get-HostRecord {
    param([object[]]$Stores)
    $variables = @{}
    foreach ($store in $Stores) {
        foreach ($name in (Get-TemplateVariable -Template $store.template)) {
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
    param([System.Collections.IDictionary]$Request)
    $limits = @{
        max_files_per_dir = [int]$Request.limits.max_files_per_dir
        max_definfo_bytes = [long]$Request.limits.max_definfo_bytes
        max_events = [int]$Request.limits.max_events
    }
    $hashing = $Request.hashing
    $stores = New-Object -TypeName 'System.Collections.Generic.List[object]'
    foreach ($candidate in @($Request.stores)) {
        $stores.Add((Get-Store -Name $candidate.name -Template $candidate.template -Limits $limits -Hashing $hashing))
    }
    $ids = [int[]]@($Request.event_ids | ForEach-Object { [int]$_ })
    $eventResult = Get-ProductEvent -Ids $ids -Hours ([int]$Request.event_hours) -Limit $limits.max_events
    return @{
        contract = $Contract
        op = 'probe'
        host = Get-HostRecord -Stores @($Request.stores)
        product = Get-Product
        stores = $stores
        events = $eventResult.events
        events_error = $eventResult.error
    }
}

$request = $module.Params.request
try {
    switch ($module.Params.op) {
        'probe' { $module.Result.reply = Invoke-Probe -Request $request }
    }
}
catch {
    $module.FailJson("the $($module.Params.op) operation failed: $($_.Exception.Message)", $_)
}
$module.Result.changed = $false
$module.ExitJson()
