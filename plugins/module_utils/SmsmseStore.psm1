# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy
#AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative

# What both halves of the Windows agent (probe and apply) need from a store: listings that
# never follow a reparse point, in ordinal order, and SHA-256 digests with the hash cache
# (format 3: keyed on size, last write time, file ID and a change stamp of the volume's change
# journal ID, the file's USN and its NTFS change time; expiring). Without an active change journal
# the cache is not used: size, times and file ID can all be set back by the file's writer.
# Windows PowerShell 5.1 only. Ansible compiles the C# utils before this module runs.

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$script:Native = [ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative.Native]
$script:CacheFolder = [ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative.CacheFolder]
$script:Expiry = [ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy.CacheExpiry]
$script:Hashing = [ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy.Hashing]
$script:Usn = [ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy.Usn]
$script:Epoch = New-Object -TypeName System.DateTime -ArgumentList 1970, 1, 1, 0, 0, 0, ([System.DateTimeKind]::Utc)
$script:HashBuffer = 1048576
#: format 3 (Windows): change_stamp is "<journal id>:<usn>:<change time>"; the POSIX agent's format 2 keeps ctime
$script:CacheVersion = 3
#: the modules' default: every cached digest is read again within 7 days
$script:DefaultMaxAge = 604800

Function Get-Field {
    # An optional request field: its value, or $Default when absent or null.
    param([System.Collections.IDictionary]$Map, [string]$Name, [object]$Default = $null)
    if ($null -eq $Map -or -not $Map.ContainsKey($Name) -or $null -eq $Map[$Name]) { return $Default }
    return $Map[$Name]
}

Function ConvertTo-UnixTime {
    param([System.DateTime]$Time)
    return [Math]::Round(($Time.ToUniversalTime() - $script:Epoch).TotalSeconds, 6)
}

Function Get-UnixNow {
    return [long][Math]::Floor(([System.DateTime]::UtcNow - $script:Epoch).TotalSeconds)
}

Function Test-ReparsePoint {
    # A junction, symbolic link or other reparse point: reported, removed itself, never followed.
    param([System.IO.FileSystemInfo]$Item)
    return ([int]($Item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) -ne 0)
}

Function Get-SortedChild {
    # The entries of a folder in ordinal order (Sort-Object compares by the culture's rules).
    param([System.IO.DirectoryInfo]$Folder)
    $items = $Folder.GetFileSystemInfos()
    $names = New-Object -TypeName 'string[]' -ArgumentList $items.Length
    for ($i = 0; $i -lt $items.Length; $i++) { $names[$i] = $items[$i].Name }
    [System.Array]::Sort($names, $items, [System.StringComparer]::Ordinal)
    return , $items
}

Function Get-RelativeFile {
    # Every file below $Top as @{ path = 'a/b'; item = FileSystemInfo }, ordinal order; a reparse
    # point (file or folder) is an entry of its own and is never entered.
    param([System.IO.DirectoryInfo]$Top, [int]$Limit)
    $files = New-Object -TypeName 'System.Collections.Generic.List[object]'
    $pending = New-Object -TypeName 'System.Collections.Generic.Stack[object]'
    $pending.Push(@($Top, ''))
    $truncated = $false
    while ($pending.Count -gt 0 -and -not $truncated) {
        $current = $pending.Pop()
        $children = Get-SortedChild -Folder $current[0]
        for ($i = $children.Length - 1; $i -ge 0; $i--) {
            $child = $children[$i]
            if (($child -is [System.IO.DirectoryInfo]) -and -not (Test-ReparsePoint -Item $child)) {
                $relative = $child.Name
                if ($current[1] -ne '') { $relative = $current[1] + '/' + $child.Name }
                $pending.Push(@($child, $relative))
            }
        }
        foreach ($child in $children) {
            if (($child -is [System.IO.DirectoryInfo]) -and -not (Test-ReparsePoint -Item $child)) { continue }
            if ($files.Count -ge $Limit) {
                $truncated = $true
                break
            }
            $relative = $child.Name
            if ($current[1] -ne '') { $relative = $current[1] + '/' + $child.Name }
            $files.Add(@{ path = $relative; item = $child })
        }
    }
    return @{ files = $files; truncated = $truncated }
}

Function Get-BytesDigest {
    param([byte[]]$Bytes)
    $sha = $script:Hashing::NewSha256()
    try {
        return $script:Hashing::Hex($sha.ComputeHash($Bytes))
    }
    finally {
        $sha.Dispose()
    }
}

Function Read-SharedFile {
    # At most $MaxBytes + 1 bytes of a file, read without blocking another process.
    param([string]$Path, [long]$MaxBytes)
    $stream = $script:Native::OpenShared($Path, 4096)
    try {
        $buffer = New-Object -TypeName byte[] -ArgumentList ([int]([Math]::Min($MaxBytes + 1, [long]$stream.Length + 1)))
        $total = 0
        while ($total -lt $buffer.Length) {
            $count = $stream.Read($buffer, $total, $buffer.Length - $total)
            if ($count -le 0) { break }
            $total += $count
        }
        $bytes = New-Object -TypeName byte[] -ArgumentList $total
        [System.Array]::Copy($buffer, $bytes, $total)
        return , $bytes
    }
    finally {
        $stream.Dispose()
    }
}

Function Get-DefinfoDigest {
    # definfo.dat's SHA-256 now (all of it, read shared), or $null when it does not exist. A file that
    # changes while it is read is read again.
    param([string]$Path)
    for ($attempt = 1; $attempt -le 3; $attempt++) {
        if (-not [System.IO.File]::Exists($Path)) { return $null }
        $read = $script:Native::HashFile($Path, 65536)
        if (-not $read.Changed) { return $read.Sha256 }
    }
    throw ('{0} kept changing while it was read' -f $Path)
}

Function Get-DefaultMaxAge {
    return $script:DefaultMaxAge
}

Function Get-DefaultCacheDir {
    return [System.IO.Path]::Combine([System.Environment]::GetFolderPath('CommonApplicationData'), 'mailsec-smsmse', 'hashes')
}

Function New-HashCache {
    # The hash cache of one store: path -> [size, mtime, change_stamp, file_id, sha256, verified_at].
    # The folder is trusted only when no untrusted account can change it (CacheFolder.Ensure), and the
    # store's volume keeps an active change journal; otherwise every file is read. $Create $false (check
    # mode): no folder is created and no permission changed.
    param([string]$CacheDir, [string]$StorePath, [bool]$UseCached, [long]$MaxAge, [bool]$Create = $true)
    if ([string]::IsNullOrEmpty($CacheDir)) { $CacheDir = Get-DefaultCacheDir }
    $name = (Get-BytesDigest -Bytes ([System.Text.Encoding]::UTF8.GetBytes($StorePath))).Substring(0, 32)
    $cache = @{
        path = [System.IO.Path]::Combine($CacheDir, $name + '.json')
        use_cached = ($UseCached -and $MaxAge -gt 0)
        max_age = $MaxAge
        now = Get-UnixNow
        trusted = $false
        journal = $null
        entries = @{}
        seen = @{}
        error = $null
        stats = @{ files_hashed = [long]0; bytes_hashed = [long]0; files_cached = [long]0; bytes_cached = [long]0 }
    }
    try {
        $cache.journal = $script:Native::JournalId($StorePath)
    }
    catch {
        $cache.error = 'the hash cache is not used: {0}' -f $_.Exception.Message
        $cache.use_cached = $false
        return $cache
    }
    try {
        $reason = $script:CacheFolder::Ensure($CacheDir, $Create)
    }
    catch {
        $reason = 'cache folder {0} cannot be secured: {1}' -f $CacheDir, $_.Exception.Message
    }
    if ($null -ne $reason) {
        $cache.error = [string]$reason
        $cache.use_cached = $false
        return $cache
    }
    $cache.trusted = $true
    if ($cache.use_cached -and [System.IO.File]::Exists($cache.path)) {
        try {
            if (-not $script:CacheFolder::TrustedFile($cache.path)) {
                throw ('{0} is a link or is not owned by SYSTEM or the Administrators' -f $cache.path)
            }
            $loaded = [Ansible.Basic.AnsibleModule]::FromJson([System.IO.File]::ReadAllText($cache.path))
            if (($loaded -is [System.Collections.IDictionary]) -and ($loaded['version'] -eq $script:CacheVersion) -and ($loaded['entries'] -is [System.Collections.IDictionary])) {
                $cache.entries = $loaded['entries']
            }
        }
        catch {
            $cache.error = 'cache {0} not used, rebuilt: {1}' -f $cache.path, $_.Exception.Message
        }
    }
    return $cache
}

Function Get-FileDigest {
    # @{ sha256; changed }: from the cache while size, mtime, change stamp (journal ID, USN, change time)
    # and file ID are unchanged and the entry has not expired, else by reading the file (shared). A file
    # without a USN is read and never cached. sha256 $null: unreadable or changed during the read (changed $true).
    param([hashtable]$Cache, [string]$Path)
    try {
        $stamp = $script:Native::StampOf($Path)
    }
    catch {
        return @{ sha256 = $null; changed = $false }
    }
    $changeStamp = $null
    if ($null -ne $Cache.journal -and $stamp.Usn -ge 0) {
        $changeStamp = $script:Usn::ChangeStamp([uint64]$Cache.journal, $stamp.Usn, $stamp.ChangeTime)
    }
    if ($Cache.use_cached -and $null -ne $changeStamp -and $Cache.entries.ContainsKey($Path)) {
        $cached = @($Cache.entries[$Path])
        if ($cached.Count -eq 6 -and [long]$cached[0] -eq $stamp.Size -and [long]$cached[1] -eq $stamp.LastWrite -and
            [string]$cached[2] -ceq $changeStamp -and [string]$cached[3] -eq $stamp.FileId -and
            $script:Expiry::IsFresh($Cache.now, [long]$cached[5], $Cache.max_age, $Path)) {
            $Cache.stats.files_cached += 1
            $Cache.stats.bytes_cached += $stamp.Size
            $Cache.seen[$Path] = $cached
            return @{ sha256 = [string]$cached[4]; changed = $false }
        }
    }
    try {
        $read = $script:Native::HashFile($Path, $script:HashBuffer)
    }
    catch {
        return @{ sha256 = $null; changed = $false }
    }
    if ($read.Changed) { return @{ sha256 = $null; changed = $true } }
    $Cache.stats.files_hashed += 1
    $Cache.stats.bytes_hashed += $read.Stamp.Size
    if ($null -ne $Cache.journal -and $read.Stamp.Usn -ge 0) {
        $readStamp = $script:Usn::ChangeStamp([uint64]$Cache.journal, $read.Stamp.Usn, $read.Stamp.ChangeTime)
        $Cache.seen[$Path] = @($read.Stamp.Size, $read.Stamp.LastWrite, $readStamp, $read.Stamp.FileId, $read.Sha256, $Cache.now)
    }
    return @{ sha256 = $read.Sha256; changed = $false }
}

Function Save-HashCache {
    # Keep what this run saw; a failure is reported, never fatal. Only in a folder that passed the checks.
    param([hashtable]$Cache)
    if (-not $Cache.trusted) { return }
    $folder = [System.IO.Path]::GetDirectoryName($Cache.path)
    $tmp = [System.IO.Path]::Combine($folder, ('.hashes-{0}.tmp' -f [System.Guid]::NewGuid().ToString('N')))
    try {
        $json = [Ansible.Basic.AnsibleModule]::ToJson(@{ version = $script:CacheVersion; entries = $Cache.seen })
        [System.IO.File]::WriteAllText($tmp, $json, (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false))
        $script:Native::Replace($Cache.path, $tmp, 2)
    }
    catch {
        $Cache.error = 'cache {0} not saved: {1}' -f $Cache.path, $_.Exception.Message
    }
    finally {
        try {
            if ([System.IO.File]::Exists($tmp)) { [System.IO.File]::Delete($tmp) }
        }
        catch {
            $Cache.error = 'cache temporary file {0} left behind: {1}' -f $tmp, $_.Exception.Message
        }
    }
}

Export-ModuleMember -Function @(
    'Get-Field', 'ConvertTo-UnixTime', 'Get-UnixNow', 'Test-ReparsePoint', 'Get-SortedChild', 'Get-RelativeFile', 'Get-BytesDigest',
    'Read-SharedFile', 'Get-DefinfoDigest', 'Get-DefaultMaxAge', 'Get-DefaultCacheDir', 'New-HashCache', 'Get-FileDigest', 'Save-HashCache'
)
