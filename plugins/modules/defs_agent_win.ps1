#!powershell

# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative

# The target half of the mailsec.smsmse.defs_* modules on Windows hosts.
# One operation of the agent contract (schemas/agent/*.json) per call. It reports
# what it finds; every decision is made on the controller. Windows PowerShell 5.1
# and .NET Framework 4.x only: no PowerShell 7 syntax or APIs.

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$spec = @{
    options = @{
        op = @{ type = 'str'; required = $true; choices = @('probe', 'install_set', 'set_pointer', 'run_liveupdate') }
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
$StagingPrefix = '.smsmse-staging-'
$TrashPrefix = '.smsmse-trash-'
$DefinfoTempPrefix = '.smsmse-definfo-'
$LockName = '.smsmse-lock'
$Marker = 'zdone.dat'
$EventSource = 'mailsec.smsmse'
$Native = [ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative.Native]

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
        $id = $Native::FileId($stream)
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

# --- changing a store: install_set and set_pointer ---
# Every step keeps definfo.dat naming a complete set: lock, compare-and-swap, staged copy hashed
# while copying, folder rename into place, atomic replacement of definfo.dat, then retention.

Function Get-InnermostException {
    # .NET exceptions reach PowerShell wrapped (MethodInvocationException); the cause is the innermost.
    param([System.Exception]$Exception)
    while ($null -ne $Exception.InnerException -and -not $Exception.Data.Contains('result')) {
        $Exception = $Exception.InnerException
    }
    return $Exception
}

Function New-Refusal {
    # An exception that means "nothing was changed", with the reply's result code.
    param([string]$Result, [string]$Message)
    $exception = New-Object -TypeName System.InvalidOperationException -ArgumentList $Message
    $exception.Data['result'] = $Result
    return $exception
}

Function Get-Sha256Hex {
    param([byte[]]$Bytes)
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try {
        return ConvertTo-Hex -Bytes $sha.ComputeHash($Bytes)
    }
    finally {
        $sha.Dispose()
    }
}

Function Get-DefinfoDigest {
    param([string]$Store)
    $path = [System.IO.Path]::Combine($Store, 'definfo.dat')
    if (-not [System.IO.File]::Exists($path)) { return $null }
    return Get-Sha256Hex -Bytes ([System.IO.File]::ReadAllBytes($path))
}

Function Write-Definfo {
    # Write to a temporary file, flush it, then replace definfo.dat in one step.
    param([string]$Store, [byte[]]$Content)
    $tmp = [System.IO.Path]::Combine($Store, ('{0}{1}.tmp' -f $DefinfoTempPrefix, [System.Guid]::NewGuid().ToString('N')))
    try {
        $stream = New-Object -TypeName System.IO.FileStream -ArgumentList @($tmp, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write, [System.IO.FileShare]::None)
        try {
            $stream.Write($Content, 0, $Content.Length)
            $stream.Flush($true)
        }
        finally {
            $stream.Dispose()
        }
        $Native::MoveReplace($tmp, [System.IO.Path]::Combine($Store, 'definfo.dat'))
    }
    finally {
        if ([System.IO.File]::Exists($tmp)) { [System.IO.File]::Delete($tmp) }
    }
    return Get-Sha256Hex -Bytes $Content
}

Function Remove-Tree {
    # Delete a folder; links and junctions inside are removed themselves, never followed.
    param([string]$Path)
    $top = New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $Path
    foreach ($item in @($top.GetFileSystemInfos())) {
        if ($item -is [System.IO.DirectoryInfo]) {
            if (Test-ReparsePoint -Item $item) {
                [System.IO.Directory]::Delete($item.FullName, $false)
            }
            else {
                Remove-Tree -Path $item.FullName
            }
        }
        else {
            $item.Attributes = [System.IO.FileAttributes]::Normal
            $item.Delete()
        }
    }
    [System.IO.Directory]::Delete($Path, $false)
}

Function Remove-StoreFolder {
    # Rename to trash first, so that no half-deleted set keeps a set's name.
    param([string]$Store, [string]$Name)
    $trash = [System.IO.Path]::Combine($Store, ('{0}{1}-{2}' -f $TrashPrefix, $Name, [System.Guid]::NewGuid().ToString('N').Substring(0, 8)))
    [System.IO.Directory]::Move([System.IO.Path]::Combine($Store, $Name), $trash)
    Remove-Tree -Path $trash
}

Function Clear-Leftover {
    param([string]$Store)
    $cleaned = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $top = New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $Store
    foreach ($item in @($top.GetFileSystemInfos() | Sort-Object -Property Name)) {
        $isDir = $item -is [System.IO.DirectoryInfo]
        if ($isDir -and -not (Test-ReparsePoint -Item $item) -and ($item.Name.StartsWith($StagingPrefix) -or $item.Name.StartsWith($TrashPrefix))) {
            Remove-Tree -Path $item.FullName
            $cleaned.Add($item.Name)
        }
        elseif ((-not $isDir) -and $item.Name.StartsWith($DefinfoTempPrefix) -and $item.Name.EndsWith('.tmp')) {
            $item.Delete()
            $cleaned.Add($item.Name)
        }
    }
    return , $cleaned
}

Function Open-StoreLock {
    # The lock is an open handle (no sharing, deleted on close): a crashed run cannot leave it behind.
    param([string]$Store)
    $path = [System.IO.Path]::Combine($Store, $LockName)
    try {
        $stream = New-Object -TypeName System.IO.FileStream -ArgumentList @(
            $path, [System.IO.FileMode]::OpenOrCreate, [System.IO.FileAccess]::ReadWrite,
            [System.IO.FileShare]::None, 4096, [System.IO.FileOptions]::DeleteOnClose)
    }
    catch {
        if ((Get-InnermostException -Exception $_.Exception) -is [System.IO.IOException]) {
            throw (New-Refusal -Result 'locked' -Message ('the store is locked by another run ({0})' -f $path))
        }
        throw
    }
    $info = [System.Text.Encoding]::UTF8.GetBytes(('{{"pid": {0}, "host": "{1}"}}' -f $PID, [System.Environment]::MachineName))
    $stream.SetLength(0)
    $stream.Write($info, 0, $info.Length)
    $stream.Flush()
    return $stream
}

Function Assert-Expected {
    param([string]$Store, [System.Collections.IDictionary]$Expect)
    $current = Get-DefinfoDigest -Store $Store
    if ([string]$current -ne [string]$Expect.definfo_sha256) {
        throw (New-Refusal -Result 'conflict' -Message "definfo.dat changed since it was read (another run, or the product's own copy job)")
    }
}

Function Get-RelativeFileSet {
    # Every file below $Folder as '/' relative paths (links included as entries), case-insensitive.
    param([string]$Folder)
    $set = New-Object -TypeName 'System.Collections.Generic.HashSet[string]' -ArgumentList ([System.StringComparer]::OrdinalIgnoreCase)
    $listing = Get-FileList -Top (New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $Folder) -Limit 100000
    foreach ($file in $listing.files) { [void]$set.Add($file.path) }
    return , $set
}

Function Test-SameFileSet {
    param([string]$Folder, [System.Collections.IDictionary]$Manifest)
    $present = Get-RelativeFileSet -Folder $Folder
    if ($present.Count -ne $Manifest.Count) { return $false }
    foreach ($rel in $Manifest.Keys) {
        if (-not $present.Contains([string]$rel)) { return $false }
    }
    return $true
}

Function Test-SetMatch {
    # Whether $Folder holds exactly the manifest's files (digests from the hash cache while unchanged).
    param([string]$Folder, [System.Collections.IDictionary]$Manifest, [string]$CacheDir, [string]$Store)
    $info = New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $Folder
    if ((-not $info.Exists) -or (Test-ReparsePoint -Item $info)) { return $false }
    if (-not (Test-SameFileSet -Folder $Folder -Manifest $Manifest)) { return $false }
    $cache = New-HashCache -CacheDir $CacheDir -StorePath $Store -UseCached $true
    foreach ($rel in $Manifest.Keys) {
        $file = New-Object -TypeName System.IO.FileInfo -ArgumentList ([System.IO.Path]::Combine($Folder, ([string]$rel).Replace('/', '\')))
        if ((-not $file.Exists) -or (Test-ReparsePoint -Item $file)) { return $false }
        $want = $Manifest[$rel]
        if ($file.Length -ne [long]$want.size) { return $false }
        if ((Get-FileDigest -Cache $cache -File $file) -ne [string]$want.sha256) { return $false }
    }
    return $true
}

Function Copy-FileHashed {
    # One pass over the bytes: read, hash, write; the copy is flushed to disk and keeps the source's mtime.
    param([string]$Source, [string]$Target)
    $sha = [System.Security.Cryptography.SHA256]::Create()
    $buffer = New-Object -TypeName byte[] -ArgumentList $HashBuffer
    $size = [long]0
    $reader = New-Object -TypeName System.IO.FileStream -ArgumentList @(
        $Source, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]::Read, $HashBuffer, [System.IO.FileOptions]::SequentialScan)
    try {
        $writer = New-Object -TypeName System.IO.FileStream -ArgumentList @(
            $Target, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write, [System.IO.FileShare]::None, $HashBuffer)
        try {
            while (($count = $reader.Read($buffer, 0, $buffer.Length)) -gt 0) {
                [void]$sha.TransformBlock($buffer, 0, $count, $null, 0)
                $writer.Write($buffer, 0, $count)
                $size += $count
            }
            [void]$sha.TransformFinalBlock($buffer, 0, 0)
            $writer.Flush($true)
        }
        finally {
            $writer.Dispose()
        }
    }
    finally {
        $reader.Dispose()
    }
    [System.IO.File]::SetLastWriteTimeUtc($Target, [System.IO.File]::GetLastWriteTimeUtc($Source))
    $digest = ConvertTo-Hex -Bytes $sha.Hash
    $sha.Dispose()
    return @{ size = $size; sha256 = $digest }
}

Function Copy-SetToStaging {
    param([string]$Store, [string]$Source, [string]$Version, [System.Collections.IDictionary]$Manifest)
    if (-not (Test-SameFileSet -Folder $Source -Manifest $Manifest)) {
        throw (New-Refusal -Result 'source_changed' -Message ('the source set {0} no longer holds the files that were verified' -f $Source))
    }
    $staging = [System.IO.Path]::Combine($Store, ('{0}{1}-{2}' -f $StagingPrefix, $Version, [System.Guid]::NewGuid().ToString('N').Substring(0, 8)))
    [void][System.IO.Directory]::CreateDirectory($staging)
    $copied = [long]0
    # the marker last, as LiveUpdate writes it: a staging folder without it was never finished
    $ordered = @($Manifest.Keys | Sort-Object -Property @{ Expression = { ([string]$_).ToLowerInvariant() -eq $Marker } }, @{ Expression = { [string]$_ } })
    try {
        foreach ($rel in $ordered) {
            $relative = ([string]$rel).Replace('/', '\')
            $src = [System.IO.Path]::Combine($Source, $relative)
            $srcInfo = New-Object -TypeName System.IO.FileInfo -ArgumentList $src
            if ((-not $srcInfo.Exists) -or (Test-ReparsePoint -Item $srcInfo)) {
                throw (New-Refusal -Result 'source_changed' -Message ('{0} in the source set is no longer a regular file' -f $rel))
            }
            $dst = [System.IO.Path]::Combine($staging, $relative)
            [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($dst))
            $copy = Copy-FileHashed -Source $src -Target $dst
            $want = $Manifest[$rel]
            if ($copy.size -ne [long]$want.size -or $copy.sha256 -ne [string]$want.sha256) {
                throw (New-Refusal -Result 'source_changed' -Message ('{0} in the source set changed after it was verified' -f $rel))
            }
            $copied += $copy.size
        }
    }
    catch {
        if ([System.IO.Directory]::Exists($staging)) { Remove-Tree -Path $staging }
        throw
    }
    return @{ path = $staging; copied = $copied }
}

Function Write-CollectionEvent {
    param([object[]]$Events, [hashtable]$Outcome)
    if ($Events.Count -eq 0) { return }
    try {
        if (-not [System.Diagnostics.EventLog]::SourceExists($EventSource)) {
            New-EventLog -LogName Application -Source $EventSource
        }
        foreach ($entry in $Events) {
            Write-EventLog -LogName Application -Source $EventSource -EventId ([int]$entry.id) -EntryType ([string]$entry.type) -Message ([string]$entry.message)
        }
        $Outcome.event_written = $true
    }
    catch {
        $Outcome.warnings.Add(('event not written to the Application log: {0}' -f $_.Exception.Message))
    }
}

Function Restart-Product {
    param([object]$Restart, [hashtable]$Outcome)
    if ($null -eq $Restart -or [string]::IsNullOrEmpty([string]$Restart.service)) { return }
    $timeout = [System.TimeSpan]::FromSeconds([int]$Restart.timeout)
    try {
        $service = New-Object -TypeName System.ServiceProcess.ServiceController -ArgumentList ([string]$Restart.service)
        if ($service.Status -ne [System.ServiceProcess.ServiceControllerStatus]::Stopped) {
            $service.Stop()
            $service.WaitForStatus([System.ServiceProcess.ServiceControllerStatus]::Stopped, $timeout)
        }
        $service.Start()
        $service.WaitForStatus([System.ServiceProcess.ServiceControllerStatus]::Running, $timeout)
        $Outcome.restarted = $true
    }
    catch {
        $Outcome.warnings.Add(('restart of {0} failed: {1}' -f $Restart.service, $_.Exception.Message))
    }
}

Function New-ChangeOutcome {
    param([string]$Op)
    return @{
        contract = $Contract
        op = $Op
        result = 'done'
        message = ''
        definfo_sha256 = $null
        installed = $false
        removed = New-Object -TypeName 'System.Collections.Generic.List[string]'
        cleaned = New-Object -TypeName 'System.Collections.Generic.List[string]'
        quarantined = New-Object -TypeName 'System.Collections.Generic.List[string]'
        bytes_copied = [long]0
        lock_broken = $null
        event_written = $false
        restarted = $false
        warnings = New-Object -TypeName 'System.Collections.Generic.List[string]'
    }
}

Function Complete-ChangeFailure {
    # A refusal or an I/O error: the reply says what happened; nothing was changed by this step.
    param([hashtable]$Outcome, [System.Management.Automation.ErrorRecord]$ErrorRecord)
    $exception = Get-InnermostException -Exception $ErrorRecord.Exception
    if ($exception.Data.Contains('result')) {
        $Outcome.result = [string]$exception.Data['result']
        $Outcome.message = $exception.Message
    }
    else {
        $Outcome.result = 'failed'
        $Outcome.message = '{0}: {1}' -f $exception.GetType().Name, $exception.Message
    }
}

Function Invoke-InstallSet {
    param([System.Collections.IDictionary]$Request)
    $outcome = New-ChangeOutcome -Op 'install_set'
    $store = [string]$Request.store
    $version = [string]$Request.version
    $manifest = $Request.manifest
    $target = [System.IO.Path]::Combine($store, $version)
    $content = [System.Convert]::FromBase64String([string]$Request.definfo_b64)
    $lock = $null
    try {
        $lock = Open-StoreLock -Store $store
        Assert-Expected -Store $store -Expect $Request.expect
        $outcome.cleaned = Clear-Leftover -Store $store
        if (-not (Test-SetMatch -Folder $target -Manifest $manifest -CacheDir ([string]$Request.cache_dir) -Store $store)) {
            $staged = Copy-SetToStaging -Store $store -Source ([string]$Request.source) -Version $version -Manifest $manifest
            $outcome.bytes_copied = $staged.copied
            Assert-Expected -Store $store -Expect $Request.expect
            if ([System.IO.Directory]::Exists($target)) {
                if ([string]$Request.expect.active -eq $version) {
                    if ([string]::IsNullOrEmpty([string]$Request.fallback_definfo_b64)) {
                        Remove-Tree -Path $staged.path
                        throw (New-Refusal -Result 'no_fallback' -Message ('{0} is the active set and no other good set can stand in while it is replaced' -f $version))
                    }
                    [void](Write-Definfo -Store $store -Content ([System.Convert]::FromBase64String([string]$Request.fallback_definfo_b64)))
                }
                Remove-StoreFolder -Store $store -Name $version
            }
            [System.IO.Directory]::Move($staged.path, $target)
            $outcome.installed = $true
        }
        $outcome.definfo_sha256 = Write-Definfo -Store $store -Content $content
        $protect = New-Object -TypeName 'System.Collections.Generic.HashSet[string]' -ArgumentList @(, [string[]]@($Request.protect))
        [void]$protect.Add($version)
        foreach ($old in @($Request.remove)) {
            if ($protect.Contains([string]$old) -or -not [System.IO.Directory]::Exists([System.IO.Path]::Combine($store, [string]$old))) { continue }
            Remove-StoreFolder -Store $store -Name ([string]$old)
            $outcome.removed.Add([string]$old)
        }
        Write-CollectionEvent -Events @($Request.events) -Outcome $outcome
        Restart-Product -Restart $Request.restart -Outcome $outcome
        $outcome.message = '{0} active' -f $version
        if ($outcome.installed) { $outcome.message = '{0} installed and active' -f $version }
    }
    catch {
        Complete-ChangeFailure -Outcome $outcome -ErrorRecord $_
    }
    finally {
        if ($null -ne $lock) { $lock.Dispose() }
    }
    return $outcome
}

Function Invoke-SetPointer {
    param([System.Collections.IDictionary]$Request)
    $outcome = New-ChangeOutcome -Op 'set_pointer'
    $store = [string]$Request.store
    $version = [string]$Request.version
    $lock = $null
    try {
        $lock = Open-StoreLock -Store $store
        Assert-Expected -Store $store -Expect $Request.expect
        $outcome.cleaned = Clear-Leftover -Store $store
        if (-not (Test-SetMatch -Folder ([System.IO.Path]::Combine($store, $version)) -Manifest $Request.manifest -CacheDir ([string]$Request.cache_dir) -Store $store)) {
            throw (New-Refusal -Result 'conflict' -Message ('{0} no longer holds the files that were verified' -f $version))
        }
        $outcome.definfo_sha256 = Write-Definfo -Store $store -Content ([System.Convert]::FromBase64String([string]$Request.definfo_b64))
        foreach ($bad in @($Request.quarantine)) {
            $from = [System.IO.Path]::Combine($store, [string]$bad)
            if ([string]$bad -eq $version -or -not [System.IO.Directory]::Exists($from)) { continue }
            [void][System.IO.Directory]::CreateDirectory([string]$Request.quarantine_dir)
            $name = '{0}-{1}-{2}-{3}' -f [System.IO.Path]::GetFileName($store.TrimEnd('\')), $bad, [System.DateTime]::UtcNow.ToString('yyyyMMddTHHmmssZ', [System.Globalization.CultureInfo]::InvariantCulture), [System.Guid]::NewGuid().ToString('N').Substring(0, 6)
            $to = [System.IO.Path]::Combine([string]$Request.quarantine_dir, $name)
            [System.IO.Directory]::Move($from, $to)
            $outcome.quarantined.Add($to)
        }
        Write-CollectionEvent -Events @($Request.events) -Outcome $outcome
        Restart-Product -Restart $Request.restart -Outcome $outcome
        $outcome.message = '{0} active' -f $version
    }
    catch {
        Complete-ChangeFailure -Outcome $outcome -ErrorRecord $_
    }
    finally {
        if ($null -ne $lock) { $lock.Dispose() }
    }
    return $outcome
}

Function Invoke-LiveUpdate {
    # LuALL.exe silently, waited for at most 'timeout' seconds (then stopped).
    param([System.Collections.IDictionary]$Request)
    $outcome = @{ contract = $Contract; op = 'run_liveupdate'; result = 'not_found'; exit_code = $null; duration = 0.0; program = $null; output = '' }
    $program = $null
    foreach ($candidate in @($Request.luall_candidates)) {
        $path = Expand-Template -Template ([string]$candidate)
        if ([System.IO.File]::Exists($path)) {
            $program = $path
            break
        }
    }
    if ($null -eq $program) {
        $outcome.output = 'LuALL.exe was not found at {0}' -f (@($Request.luall_candidates) -join '; ')
        return $outcome
    }
    $outcome.program = $program
    $start = New-Object -TypeName System.Diagnostics.ProcessStartInfo -ArgumentList $program
    $start.Arguments = (@($Request.arguments) | ForEach-Object { [string]$_ }) -join ' '
    $start.UseShellExecute = $false
    $start.CreateNoWindow = $true
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    try {
        $process = [System.Diagnostics.Process]::Start($start)
    }
    catch {
        $outcome.result = 'failed'
        $outcome.output = (Get-InnermostException -Exception $_.Exception).Message
        return $outcome
    }
    try {
        if ($process.WaitForExit([int]$Request.timeout * 1000)) {
            $outcome.exit_code = $process.ExitCode
            $outcome.result = 'failed'
            if ($process.ExitCode -eq 0) { $outcome.result = 'done' }
        }
        else {
            $process.Kill()
            $outcome.result = 'timeout'
            $outcome.output = 'LuALL.exe did not finish within {0} s and was stopped' -f $Request.timeout
        }
    }
    finally {
        $outcome.duration = [Math]::Round($watch.Elapsed.TotalSeconds, 3)
        $process.Dispose()
    }
    return $outcome
}

$request = $module.Params.request
try {
    $op = $module.Params.op
    if ($module.CheckMode -and $op -ne 'probe') {
        $module.FailJson(('{0} changes the host and does not run in check mode; the controller plans it instead' -f $op))
    }
    switch ($op) {
        'probe' { $module.Result.reply = Invoke-Probe -Request $request }
        'install_set' { $module.Result.reply = Invoke-InstallSet -Request $request }
        'set_pointer' { $module.Result.reply = Invoke-SetPointer -Request $request }
        'run_liveupdate' { $module.Result.reply = Invoke-LiveUpdate -Request $request }
    }
}
catch {
    $module.FailJson("the $($module.Params.op) operation failed: $($_.Exception.Message)", $_)
}
$module.Result.changed = $false
$module.ExitJson()
