# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy
#AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative
#AnsibleRequires -PowerShell ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseStore

# The apply operation on Windows (docs/changes.md): the controller's ordered list of primitive
# steps, each executed and reported as {op, result, code, message, data}. A required step that
# does not end 'done' makes every later step of its group (a group starts at its lock step) that is
# not 'always' 'skipped'. No decision is made here: which set, which retention, what the outcome
# means are the controller's.
#
# Windows specifics kept here: the scanner holds the active set's files open and has its DLLs
# loaded (preflight asks the Restart Manager who holds them, opening none); antivirus filters open new files for a
# moment (every rename, replace and delete is retried on Win32 5, 32 and 145 for the wire's
# retry_seconds); a junction is removed itself, never followed; definfo.dat is replaced with
# ReplaceFile (ACL and attributes kept). Every name on the wire comes from the request's 'wire'.

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'
Add-Type -AssemblyName System.ServiceProcess

$script:Native = [ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative.Native]
$script:RestartManager = [ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative.RestartManager]
$script:PrivateFolder = [ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative.PrivateFolder]
$script:Holders = [ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy.Holders]
$script:Win32 = [ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy.Win32Error]
$script:Names = [ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy.Names]
$script:Text = [ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy.Text]
$script:EventSource = 'mailsec.smsmse'
$script:CopyBuffer = 1048576

#: results each primitive may report besides done, skipped and failed (apply.reply.json)
$script:StepResults = @{
    lock = @('locked')
    expect = @('conflict')
    preflight = @('refused', 'in_use')
    clean = @()
    stage = @('source_changed')
    fetch = @('refused')
    matches = @('conflict')
    rename = @('conflict', 'in_use')
    exchange = @('conflict', 'in_use')
    write_pointer = @('conflict')
    retire = @('conflict', 'in_use')
    quarantine = @('conflict', 'in_use')
    event = @()
    service = @('timeout')
    unlock = @()
}

Function New-StepOutcome {
    # Ends a step other than 'done' from inside a primitive: thrown, caught by Invoke-Step.
    param([string]$Result, [object]$Code, [string]$Message, [hashtable]$Data = @{})
    $exception = New-Object -TypeName System.InvalidOperationException -ArgumentList $Message
    $exception.Data['result'] = $Result
    if ([string]::IsNullOrEmpty([string]$Code)) { $Code = $null }
    $exception.Data['code'] = $Code
    $exception.Data['data'] = $Data
    return $exception
}

Function Get-StepOutcome {
    # The outcome an exception carries: one of ours, else the system error by its HResult.
    param([System.Exception]$Exception, [string]$What, [int]$MaxMessage)
    for ($current = $Exception; $null -ne $current; $current = $current.InnerException) {
        if ($current.Data.Contains('result')) {
            return @{
                result = [string]$current.Data['result']
                code = $current.Data['code']
                message = $script:Text::Head($current.Message, $MaxMessage)
                data = $current.Data['data']
            }
        }
    }
    $described = $script:Win32::Describe($Exception, $What, $MaxMessage)
    return @{ result = $described.Result; code = $described.Code; message = $described.Message; data = @{} }
}

Function Get-StorePath {
    # <store>\<name> for a name the step gives: one component, as the contract allows.
    param([string]$Store, [string]$Name)
    if (-not $script:Names::IsComponent($Name)) {
        throw (New-StepOutcome -Result 'failed' -Code 'BAD_REQUEST' -Message ('{0} is not a folder name of the store' -f $Name))
    }
    return $script:Names::Join($Store, $Name)
}

Function Get-ItemInfo {
    # The item at $Path without following a link: a DirectoryInfo, a FileInfo, or $null.
    param([string]$Path)
    $dir = New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $Path
    if ($dir.Exists) { return $dir }
    $file = New-Object -TypeName System.IO.FileInfo -ArgumentList $Path
    if ($file.Exists) { return $file }
    return $null
}

Function Remove-Leftover {
    # Best-effort removal of a folder, file or link; never through a reparse point. Returns what remains.
    param([string]$Path, [int]$RetrySeconds)
    $remaining = New-Object -TypeName 'System.Collections.Generic.List[string]'
    [void]$script:Native::RemoveTree($Path, $RetrySeconds, $remaining)
    return , $remaining
}

Function Get-ManifestPath {
    # A manifest entry as a path below $Folder: '/' separated components, none of which Win32 would
    # rename (trailing dot or space), or read as a stream (':').
    param([string]$Folder, [string]$Relative)
    foreach ($part in $Relative.Split('/')) {
        if (-not $script:Names::IsComponent($part) -or $part.EndsWith('.') -or $part.EndsWith(' ')) {
            throw (New-StepOutcome -Result 'failed' -Code 'BAD_REQUEST' -Message ('{0} is not a file name this agent writes' -f $Relative))
        }
    }
    return [System.IO.Path]::Combine($Folder, $Relative.Replace('/', '\'))
}

Function Get-FileNameSet {
    # The relative paths of every file below $Folder ('/' separated, exact names) and whether any is a link.
    param([string]$Folder)
    $listing = Get-RelativeFile -Top (New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $Folder) -Limit 1000000
    $names = New-Object -TypeName 'System.Collections.Generic.HashSet[string]' -ArgumentList ([System.StringComparer]::Ordinal)
    $links = New-Object -TypeName 'System.Collections.Generic.List[string]'
    foreach ($file in $listing.files) {
        [void]$names.Add($file.path)
        if (Test-ReparsePoint -Item $file.item) { $links.Add($file.path) }
    }
    return @{ names = $names; links = $links }
}

Function Compare-FileNameSet {
    # $null when the folder holds exactly the manifest's files (no link among them), else what differs.
    param([hashtable]$Found, [System.Collections.IDictionary]$Manifest)
    if ($Found.links.Count -gt 0) { return ('{0} is a link' -f $Found.links[0]) }
    foreach ($rel in $Manifest.Keys) {
        if (-not $Found.names.Contains([string]$rel)) { return ('{0} is missing' -f $rel) }
    }
    if ($Found.names.Count -ne $Manifest.Count) { return 'it holds files the manifest does not list' }
    return $null
}

# --- the primitives: each returns the step's data, or throws New-StepOutcome / a system error ---

Function Move-First {
    # The first rename of a step, before which nothing has moved: a folder with files open below it
    # (access denied on Windows), a sharing or lock violation is 'in_use' with SET_IN_USE, so that the
    # controller knows nothing changed; any other error goes to the caller.
    param([hashtable]$Context, [string]$From, [string]$To)
    try {
        $script:Native::Move($From, $To, $Context.retry)
    }
    catch {
        $code = $script:Win32::FromException($_.Exception)
        if ($code -eq 5 -or $code -eq 32 -or $code -eq 33) {
            $outcome = Get-StepOutcome -Exception $_.Exception -What ('cannot rename {0} to {1} (files open below it?)' -f $From, $To) -MaxMessage $Context.max_message
            throw (New-StepOutcome -Result 'in_use' -Code 'SET_IN_USE' -Message $outcome.message)
        }
        throw
    }
}

Function Assert-Folder {
    # $Path is a real folder of the store (no link); 'conflict' otherwise: the store is not as the plan read it.
    param([string]$Path)
    $item = Get-ItemInfo -Path $Path
    if ($null -eq $item -or -not ($item -is [System.IO.DirectoryInfo]) -or (Test-ReparsePoint -Item $item)) {
        throw (New-StepOutcome -Result 'conflict' -Code $null -Message ('{0} is not a folder of the store (missing, a file, or a link)' -f $Path))
    }
}

Function Assert-Free {
    # Nothing is at $Path: 'conflict' otherwise (a rename never replaces anything).
    param([string]$Path)
    if ($null -ne (Get-ItemInfo -Path $Path)) {
        throw (New-StepOutcome -Result 'conflict' -Code $null -Message ('{0} already exists' -f $Path))
    }
}


Function Get-LockVerdict {
    # Why an existing lock file's owner is provably gone ($null: it may still run), by the same rules as
    # the POSIX agent: a record of this host taken before the host last started, or whose process is gone
    # (or whose process ID now belongs to a process started after the lock was taken); with no record to
    # read, older than stale_seconds. A lock of another host is never broken.
    param([string]$Path, [int]$StaleSeconds)
    $age = ([System.DateTime]::UtcNow - [System.IO.File]::GetLastWriteTimeUtc($Path)).TotalSeconds
    # a lock held open by a live run cannot be read: the sharing violation goes to the caller
    $bytes = Read-SharedFile -Path $Path -MaxBytes 4096
    $record = $null
    try {
        $record = [Ansible.Basic.AnsibleModule]::FromJson([System.Text.Encoding]::UTF8.GetString($bytes))
    }
    catch {
        $record = $null
    }
    $readable = ($record -is [System.Collections.IDictionary]) -and ($record['host'] -is [string]) -and ($record['pid'] -is [int] -or $record['pid'] -is [long])
    if (-not $readable) {
        if ($age -gt $StaleSeconds) { return ('nothing about its owner can be read and it is {0} s old' -f [long]$age) }
        return $null
    }
    if ([string]$record['host'] -ne [System.Net.Dns]::GetHostName()) { return $null }
    $created = Get-Field -Map $record -Name 'created'
    if (($created -is [double] -or $created -is [decimal] -or $created -is [int] -or $created -is [long]) -and
        [double]$created -lt ($script:Native::BootTimeUnix() - 60)) {
        return 'it was taken before this host last started'
    }
    $process = Get-Process -Id ([int]$record['pid']) -ErrorAction SilentlyContinue
    if ($null -eq $process) { return ('its process {0} is gone' -f $record['pid']) }
    try {
        $started = ConvertTo-UnixTime -Time $process.StartTime
        if ($null -ne $created -and $started -gt ([double]$created + 1)) {
            return ('its process ID {0} now belongs to a process started after the lock was taken' -f $record['pid'])
        }
    }
    catch {
        return $null
    }
    return $null
}

Function Invoke-LockStep {
    # The lock is a file holding its owner ({pid, host, created, token}, as the POSIX agent writes it),
    # kept open with no sharing and deleted on close: while a run holds it, no other can open it, and a
    # crashed run's handle closes with its process. A lock file no process holds is judged by
    # Get-LockVerdict; a held one is never broken.
    param([hashtable]$Context, [string]$Store, [System.Collections.IDictionary]$Arguments)
    $path = $script:Names::Join($Store, [string]$Context.wire.lock)
    $stale = [int]$Arguments.stale_seconds
    if ($Context.locks.ContainsKey($Store)) { return @{ broken = $null } }
    $broken = $null
    $stream = $null
    $deadline = [System.DateTime]::UtcNow.AddSeconds($Context.retry)
    while ($null -eq $stream) {
        try {
            $stream = New-Object -TypeName System.IO.FileStream -ArgumentList @(
                $path, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::ReadWrite,
                [System.IO.FileShare]::None, 4096, [System.IO.FileOptions]::DeleteOnClose)
        }
        catch {
            $code = $script:Win32::FromException($_.Exception)
            if ($code -eq 80 -or $code -eq 183) {
                # a lock file exists: held (sharing violation when read), or left behind and judged
                try {
                    $why = Get-LockVerdict -Path $path -StaleSeconds $stale
                }
                catch {
                    $held = $script:Win32::FromException($_.Exception)
                    if ($held -eq 32 -or $held -eq 33) {
                        throw (New-StepOutcome -Result 'locked' -Code $null -Message ('the store is locked by another run that is still alive: {0}' -f $path))
                    }
                    if ($held -eq 2) { continue }
                    throw
                }
                if ($null -eq $why) {
                    throw (New-StepOutcome -Result 'locked' -Code $null -Message ('the store is locked by another run that may still be alive (its owner cannot be proven gone): {0}' -f $path))
                }
                try {
                    [System.IO.File]::Delete($path)
                }
                catch {
                    # another run took the lock in the meantime
                    throw (New-StepOutcome -Result 'locked' -Code $null -Message ('another run took the store lock first: {0}' -f $path))
                }
                $broken = $why
                continue
            }
            # access denied while the previous owner's lock file is being deleted (delete pending): wait
            if ($code -ne 5 -or [System.DateTime]::UtcNow -gt $deadline) { throw }
            Start-Sleep -Milliseconds 100
        }
    }
    $created = ConvertTo-UnixTime -Time ([System.DateTime]::UtcNow)
    $owner = @{ pid = $PID; host = [System.Net.Dns]::GetHostName(); boot_id = $null; created = $created; token = [System.Guid]::NewGuid().ToString('N') }
    $bytes = [System.Text.Encoding]::UTF8.GetBytes([Ansible.Basic.AnsibleModule]::ToJson($owner))
    $stream.Write($bytes, 0, $bytes.Length)
    $stream.Flush($true)
    $Context.locks[$Store] = $stream
    return @{ broken = $broken }
}

Function Invoke-UnlockStep {
    param([hashtable]$Context, [string]$Store)
    if ($Context.locks.ContainsKey($Store)) {
        $stream = $Context.locks[$Store]
        [void]$Context.locks.Remove($Store)
        $stream.Dispose()
    }
    return @{}
}

Function Invoke-ExpectStep {
    param([hashtable]$Context, [string]$Store, [System.Collections.IDictionary]$Arguments)
    $definfo = $script:Names::Join($Store, [string]$Context.wire.definfo)
    $now = Get-DefinfoDigest -Path $definfo
    $want = Get-Field -Map $Arguments -Name 'definfo_sha256'
    if ([string]$now -ne [string]$want) {
        throw (New-StepOutcome -Result 'conflict' -Code $null -Message ("{0} changed since it was read (another run, or the product's own copy job)" -f $definfo) -Data @{ sha256 = $now })
    }
    return @{ sha256 = $now }
}

Function Test-PointerWritable {
    # definfo.dat can be replaced: a temporary file can be created in the store, and definfo.dat
    # opened for delete and attribute changes (what ReplaceFile and a read-only target need).
    param([hashtable]$Context, [string]$Store)
    $probe = $script:Names::Join($Store, ('{0}{1}.tmp' -f $Context.wire.definfo_temp_prefix, [System.Guid]::NewGuid().ToString('N')))
    try {
        $stream = New-Object -TypeName System.IO.FileStream -ArgumentList @($probe, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write, [System.IO.FileShare]::None, 4096, [System.IO.FileOptions]::DeleteOnClose)
        $stream.Dispose()
    }
    catch {
        $outcome = Get-StepOutcome -Exception $_.Exception -What ('cannot create a file in {0}' -f $Store) -MaxMessage $Context.max_message
        throw (New-StepOutcome -Result 'refused' -Code 'POINTER_NOT_WRITABLE' -Message $outcome.message)
    }
    $definfo = $script:Names::Join($Store, [string]$Context.wire.definfo)
    if (-not [System.IO.File]::Exists($definfo)) { return }
    # a read-only definfo.dat is replaced too (its attribute cleared, then set again): attributes must be writable
    $rights = [System.Security.AccessControl.FileSystemRights]'Delete, WriteAttributes, ReadData'
    if (([System.IO.File]::GetAttributes($definfo) -band [System.IO.FileAttributes]::ReadOnly) -ne 0) {
        $rights = [System.Security.AccessControl.FileSystemRights]'WriteAttributes, ReadData'
    }
    $share = [System.IO.FileShare]'ReadWrite, Delete'
    try {
        $stream = New-Object -TypeName System.IO.FileStream -ArgumentList @($definfo, [System.IO.FileMode]::Open, $rights, $share, 4096, [System.IO.FileOptions]::None)
        $stream.Dispose()
    }
    catch {
        $outcome = Get-StepOutcome -Exception $_.Exception -What ('cannot replace {0}' -f $definfo) -MaxMessage $Context.max_message
        if ($outcome.result -eq 'in_use') { throw (New-StepOutcome -Result 'in_use' -Code $outcome.code -Message $outcome.message) }
        throw (New-StepOutcome -Result 'refused' -Code 'POINTER_NOT_WRITABLE' -Message $outcome.message)
    }
}

Function Get-SetHolder {
    # Who holds a file of the set, from the Restart Manager: open handles and loaded DLLs (mapped
    # images) alike, without opening any file. Returns their names (none: nobody holds the set).
    param([string]$Store, [string]$Name)
    if (-not $script:Names::IsVersion($Name)) {
        throw (New-StepOutcome -Result 'failed' -Code 'BAD_REQUEST' -Message ('{0} is not a set name' -f $Name))
    }
    $folder = $script:Names::Join($Store, $Name)
    $info = New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $folder
    if (-not $info.Exists -or (Test-ReparsePoint -Item $info)) { return , (New-Object -TypeName 'System.Collections.Generic.List[string]') }
    $files = New-Object -TypeName 'System.Collections.Generic.List[string]'
    foreach ($file in (Get-RelativeFile -Top $info -Limit 1000000).files) {
        if (-not (Test-ReparsePoint -Item $file.item)) { $files.Add($file.item.FullName) }
    }
    return , $script:Holders::Names($script:RestartManager::HoldersOf($files))
}

Function Test-StorePrivate {
    # Only SYSTEM, the Administrators and TrustedInstaller may change the store, at every level of its
    # path (StorePolicy.Privacy): otherwise another account could swap a folder for a junction between a
    # check and a privileged file operation, which then lands elsewhere.
    # The step's result when it is not: preflight refuses; clean, which checks before it touches anything, fails.
    param([string]$Store, [string]$Result = 'refused')
    $problems = $script:PrivateFolder::Problems($Store, $false)
    if ($problems.Count -gt 0) {
        throw (New-StepOutcome -Result $Result -Code 'STORE_NOT_PRIVATE' -Message ('the store {0} can be changed by accounts other than SYSTEM, the Administrators and TrustedInstaller: {1}' -f $Store, $script:PrivateFolder::Describe($problems)))
    }
}

Function Invoke-PreflightStep {
    param([hashtable]$Context, [string]$Store, [System.Collections.IDictionary]$Arguments)
    $checked = New-Object -TypeName 'System.Collections.Generic.List[string]'
    Test-StorePrivate -Store $Store
    $checked.Add('private')
    if ([bool]$Arguments.pointer_writable) {
        Test-PointerWritable -Context $Context -Store $Store
        $checked.Add('pointer_writable')
    }
    $sameVolume = @($Arguments.same_volume)
    if ($sameVolume.Count -gt 0) {
        $volume = $script:Native::VolumeOf($Store)
        foreach ($folder in $sameVolume) {
            if ($script:Native::VolumeOf([string]$folder) -ne $volume) {
                throw (New-StepOutcome -Result 'refused' -Code 'NOT_SAME_VOLUME' -Message ('{0} is not on the volume of {1}: a rename cannot move a set there' -f $folder, $Store) -Data @{ checked = $checked })
            }
        }
        $checked.Add('same_volume')
    }
    $need = [long]$Arguments.free_bytes
    if ($need -gt 0) {
        $free = $script:Native::FreeBytes($Store)
        if ($free -lt $need) {
            throw (New-StepOutcome -Result 'refused' -Code 'NO_SPACE' -Message ('{0} has {1} bytes free, {2} are needed' -f $Store, $free, $need) -Data @{ checked = $checked })
        }
        $checked.Add('free_bytes')
    }
    $sets = @($Arguments.not_in_use)
    foreach ($name in $sets) {
        $holders = Get-SetHolder -Store $Store -Name ([string]$name)
        if ($holders.Count -gt 0) {
            $message = 'files of the set {0} are held by {1}: it cannot move now' -f $name, ($holders -join ', ')
            throw (New-StepOutcome -Result 'in_use' -Code 'SET_IN_USE' -Message $message -Data @{ checked = $checked; holders = Limit-List -List $holders -Max $Context.max_list })
        }
    }
    if ($sets.Count -gt 0) { $checked.Add('not_in_use') }
    return @{ checked = $checked }
}

Function Restore-ExchangeAside {
    # Every folder an interrupted exchange moved aside ('<exchange_aside_prefix><b>-<token>') whose b is
    # missing, renamed back to b. Returns the names put back; one that cannot be is added to $Failed.
    param([hashtable]$Context, [string]$Store, [System.Collections.Generic.List[string]]$Failed)
    $restored = New-Object -TypeName 'System.Collections.Generic.List[string]'
    foreach ($item in (Get-SortedChild -Folder (New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $Store))) {
        $b = Get-AsideName -Context $Context -Name $item.Name
        if ($null -eq $b) { continue }
        $target = $script:Names::Join($Store, $b)
        if ($null -ne (Get-ItemInfo -Path $target)) { continue }
        try {
            $script:Native::Move($item.FullName, $target, $Context.retry)
            $restored.Add($b)
        }
        catch {
            $Failed.Add($item.Name)
            $Context.warnings.Add(('{0} could not be renamed back to {1}: {2}' -f $item.Name, $b, $_.Exception.Message))
        }
    }
    return , $restored
}

Function Get-AsideName {
    # b of an exchange's aside name '<exchange_aside_prefix><b>-<token>', or $null.
    param([hashtable]$Context, [string]$Name)
    $lead = [string]$Context.wire.exchange_aside_prefix
    if (-not $Name.StartsWith($lead, [System.StringComparison]::Ordinal)) { return $null }
    $rest = $Name.Substring($lead.Length)
    $dash = $rest.LastIndexOf('-')
    if ($dash -lt 1 -or $dash -eq $rest.Length - 1) { return $null }
    $b = $rest.Substring(0, $dash)
    if (-not $script:Names::IsComponent($b)) { return $null }
    return $b
}

Function Invoke-CleanStep {
    # Leftovers of interrupted runs. First, what an interrupted exchange moved aside is put back while its
    # name is missing (data restored). Then each leftover is removed on its own (best effort): a folder or
    # link named like a staging or trash folder (a link removed itself), a temporary definfo.dat. Kept:
    # an aside whose name is still missing, and a temporary definfo.dat while definfo.dat is missing (it
    # may be the only copy of the pointer); both are reported in remaining.
    param([hashtable]$Context, [string]$Store)
    # Before any removal: in a store other accounts may change, one could swap a leftover for a junction
    # between a listing and a delete, which would then land outside the store. Nothing is touched then.
    Test-StorePrivate -Store $Store -Result 'failed'
    $removed = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $remaining = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $wire = $Context.wire
    $restored = Restore-ExchangeAside -Context $Context -Store $Store -Failed $remaining
    $pointerThere = [System.IO.File]::Exists($script:Names::Join($Store, [string]$wire.definfo))
    foreach ($item in (Get-SortedChild -Folder (New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $Store))) {
        $name = $item.Name
        if ($remaining.Contains($name)) { continue }
        # matched by name whatever the entry is: a file, a folder, or a link (removed itself)
        $folderLike = $name.StartsWith([string]$wire.staging_prefix, [System.StringComparison]::Ordinal) -or $name.StartsWith([string]$wire.trash_prefix, [System.StringComparison]::Ordinal) -or $name.StartsWith([string]$wire.exchange_aside_prefix, [System.StringComparison]::Ordinal)
        $tempLike = $name.StartsWith([string]$wire.definfo_temp_prefix, [System.StringComparison]::Ordinal) -and $name.EndsWith('.tmp', [System.StringComparison]::Ordinal)
        if (-not ($folderLike -or $tempLike)) { continue }
        if ($tempLike -and -not $pointerThere) {
            $remaining.Add($name)
            $Context.warnings.Add(('{0} is kept: {1} is missing and it may be the only copy of the new one' -f $name, $wire.definfo))
            continue
        }
        $b = Get-AsideName -Context $Context -Name $name
        if ($null -ne $b -and $null -eq (Get-ItemInfo -Path ($script:Names::Join($Store, $b)))) {
            $remaining.Add($name)
            continue
        }
        try {
            $left = Remove-Leftover -Path $item.FullName -RetrySeconds $Context.retry
        }
        catch {
            $left = @($item.FullName)
            $Context.warnings.Add(('{0} could not be removed: {1}' -f $name, $_.Exception.Message))
        }
        if ($left.Count -eq 0) { $removed.Add($name) } else { $remaining.Add($name) }
    }
    $data = @{ removed = Limit-List -List $removed -Max $Context.max_list; remaining = Limit-List -List $remaining -Max $Context.max_list; restored = Limit-List -List $restored -Max $Context.max_list }
    if ($remaining.Count -gt 0) {
        throw (New-StepOutcome -Result 'failed' -Code 'LEFTOVERS_REMAIN' -Message ('{0} leftover(s) could not be removed or put back yet: {1}' -f $remaining.Count, ($remaining -join ', ')) -Data $data)
    }
    return $data
}

Function Limit-List {
    param([System.Collections.Generic.List[string]]$List, [int]$Max)
    if ($List.Count -le $Max) { return , $List.ToArray() }
    return , $List.GetRange(0, $Max).ToArray()
}

Function Invoke-FetchStep {
    # Bringing a set from a distribution point (URL or UNC share) is not in this agent yet: refused before anything
    # is written, so the controller tries the next source. The contract's fetch is docs/changes.md; docs/windows.md
    # says what Windows hosts use meanwhile.
    param([hashtable]$Context, [string]$Store, [System.Collections.IDictionary]$Arguments)
    $message = 'fetching the {0} files of a set from {1} into {2} is not supported on Windows hosts yet; use liveupdate or a set copied into a store' -f $Arguments.manifest.Count, [string]$Arguments.source, [string]$Arguments.name
    throw (New-StepOutcome -Result 'refused' -Code 'NOT_SUPPORTED' -Message $message)
}

Function Invoke-StageStep {
    # Copy the set at 'source' into <store>\<name>, hashing while copying, marker last, written through;
    # compared with the manifest. A source that moves on meanwhile is 'source_changed'.
    param([hashtable]$Context, [string]$Store, [System.Collections.IDictionary]$Arguments)
    $source = [string]$Arguments.source
    $manifest = $Arguments.manifest
    $target = Get-StorePath -Store $Store -Name ([string]$Arguments.name)
    if ($null -ne (Get-ItemInfo -Path $target)) {
        throw (New-StepOutcome -Result 'failed' -Code ($script:Win32::Name($script:Win32::AlreadyExists)) -Message ('{0} already exists' -f $target))
    }
    $sourceInfo = New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $source
    if (-not $sourceInfo.Exists -or (Test-ReparsePoint -Item $sourceInfo)) {
        throw (New-StepOutcome -Result 'source_changed' -Code $null -Message ('the source set {0} is no longer a folder' -f $source))
    }
    $differs = Compare-FileNameSet -Found (Get-FileNameSet -Folder $source) -Manifest $manifest
    if ($null -ne $differs) {
        throw (New-StepOutcome -Result 'source_changed' -Code $null -Message ('the source set {0} no longer holds the files that were verified: {1}' -f $source, $differs))
    }
    $marker = [string]$Context.wire.marker
    $names = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $markers = New-Object -TypeName 'System.Collections.Generic.List[string]'
    foreach ($rel in $manifest.Keys) {
        # the marker goes last, in the manifest's own spelling (NTFS compares names without case)
        if ([string]::Equals([string]$rel, $marker, [System.StringComparison]::OrdinalIgnoreCase)) { $markers.Add([string]$rel) }
        else { $names.Add([string]$rel) }
    }
    $names.Sort([System.StringComparer]::Ordinal)
    $names.AddRange($markers)
    $copied = [long]0
    [void][System.IO.Directory]::CreateDirectory($target)
    try {
        foreach ($rel in $names) {
            $src = Get-ManifestPath -Folder $source -Relative $rel
            $dst = Get-ManifestPath -Folder $target -Relative $rel
            [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($dst))
            try {
                $copy = $script:Native::CopyHashed($src, $dst, $script:CopyBuffer)
            }
            catch {
                if (-not [System.IO.File]::Exists($src)) {
                    throw (New-StepOutcome -Result 'source_changed' -Code $null -Message ('{0} left the source set during the copy (LiveUpdate purged it?)' -f $src))
                }
                throw
            }
            $want = $manifest[$rel]
            if ($copy.Changed -or $copy.Stamp.Size -ne [long]$want.size -or $copy.Sha256 -ne [string]$want.sha256) {
                throw (New-StepOutcome -Result 'source_changed' -Code $null -Message ('{0} in the source set changed after it was verified' -f $rel))
            }
            $copied += $copy.Stamp.Size
        }
    }
    catch {
        # the original outcome is what the step reports; a failed cleanup only adds to its message
        $original = $_
        try {
            $left = Remove-Leftover -Path $target -RetrySeconds $Context.retry
            if ($left.Count -gt 0) { $Context.warnings.Add(('{0} could not be removed yet; clean removes it later' -f $target)) }
        }
        catch {
            $Context.warnings.Add(('{0} could not be removed yet: {1}' -f $target, $_.Exception.Message))
        }
        throw $original
    }
    return @{ bytes_copied = $copied; files = $names.Count }
}

Function Invoke-MatchesStep {
    # <store>\<name> is a real folder holding exactly the manifest's files, byte for byte (cache v2).
    param([hashtable]$Context, [string]$Store, [System.Collections.IDictionary]$Arguments)
    $name = [string]$Arguments.name
    $folder = Get-StorePath -Store $Store -Name $name
    $manifest = $Arguments.manifest
    $info = New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $folder
    if (-not $info.Exists -or (Test-ReparsePoint -Item $info)) {
        throw (New-StepOutcome -Result 'conflict' -Code $null -Message ('{0} is not a folder of the store (missing, or a link)' -f $folder))
    }
    $differs = Compare-FileNameSet -Found (Get-FileNameSet -Folder $folder) -Manifest $manifest
    if ($null -ne $differs) {
        throw (New-StepOutcome -Result 'conflict' -Code $null -Message ('{0} no longer holds the files that were verified: {1}' -f $folder, $differs))
    }
    $cache = New-HashCache -CacheDir $Context.cache_dir -StorePath $Store -UseCached $true -MaxAge (Get-DefaultMaxAge)
    try {
        foreach ($rel in $manifest.Keys) {
            $path = Get-ManifestPath -Folder $folder -Relative ([string]$rel)
            $digest = Get-FileDigest -Cache $cache -Path $path
            if ($digest.changed -or $digest.sha256 -ne [string]$manifest[$rel].sha256) {
                throw (New-StepOutcome -Result 'conflict' -Code $null -Message ('{0} in {1} differs from what was verified' -f $rel, $name))
            }
        }
    }
    finally {
        Save-HashCache -Cache $cache
        if ($null -ne $cache.error) { $Context.warnings.Add([string]$cache.error) }
    }
    return @{}
}

Function Invoke-RenameStep {
    param([hashtable]$Context, [string]$Store, [System.Collections.IDictionary]$Arguments)
    $from = Get-StorePath -Store $Store -Name ([string]$Arguments.from)
    $to = Get-StorePath -Store $Store -Name ([string]$Arguments.to)
    if ($null -eq (Get-ItemInfo -Path $from)) {
        throw (New-StepOutcome -Result 'conflict' -Code $null -Message ('{0} is not in the store' -f $from))
    }
    Assert-Free -Path $to
    Move-First -Context $Context -From $from -To $to
    return @{}
}

Function Invoke-ExchangeStep {
    # Windows has no atomic exchange: b -> aside, a -> b, aside -> a, each retried. The aside has its
    # own prefix (wire exchange_aside_prefix): clean puts it back while b is missing and never deletes
    # it then. The finally (it runs when the pipeline is stopped, where a catch does not) looks at the
    # folders and puts b back, or finishes the swap, whatever interrupted the renames.
    param([hashtable]$Context, [string]$Store, [System.Collections.IDictionary]$Arguments)
    $a = Get-StorePath -Store $Store -Name ([string]$Arguments.a)
    $b = Get-StorePath -Store $Store -Name ([string]$Arguments.b)
    Assert-Folder -Path $a
    Assert-Folder -Path $b
    $aside = $script:Names::Join($Store, ('{0}{1}-{2}' -f $Context.wire.exchange_aside_prefix, $Arguments.b, [System.Guid]::NewGuid().ToString('N').Substring(0, 8)))
    try {
        Move-First -Context $Context -From $b -To $aside
        try {
            $script:Native::Move($a, $b, $Context.retry)
        }
        catch {
            # b is put back by the finally: nothing changed, and a held folder says so
            $code = $script:Win32::FromException($_.Exception)
            if ($code -eq 5 -or $code -eq 32 -or $code -eq 33) {
                $outcome = Get-StepOutcome -Exception $_.Exception -What ('cannot rename {0} to {1} (files open below it?)' -f $a, $b) -MaxMessage $Context.max_message
                throw (New-StepOutcome -Result 'in_use' -Code 'SET_IN_USE' -Message $outcome.message)
            }
            throw
        }
        try {
            $script:Native::Move($aside, $a, $Context.retry)
        }
        catch {
            # the swap is done (b holds a's set); the finally tries once more, and warns
            $null = $_
        }
    }
    finally {
        Complete-Exchange -Context $Context -SetA $a -SetB $b -AsidePath $aside
    }
    return @{ atomic = $false }
}

Function Complete-Exchange {
    # An exchange stopped midway, put right from what the folders are now: while b is missing, b is put
    # back from the aside (nothing changed); once a has become b, the aside is renamed to a (the swap is
    # done). A b that cannot be put back is a failure (the store changed); the aside then waits for clean.
    param([hashtable]$Context, [string]$SetA, [string]$SetB, [string]$AsidePath)
    if (-not [System.IO.Directory]::Exists($AsidePath)) { return }
    if ($null -eq (Get-ItemInfo -Path $SetB)) {
        try {
            $script:Native::Move($AsidePath, $SetB, $Context.retry)
        }
        catch {
            throw (New-StepOutcome -Result 'failed' -Code $null -Message ('{0} is missing: its set is at {1} and could not be put back ({2}); the next clean puts it back' -f $SetB, $AsidePath, $_.Exception.Message) -Data @{ atomic = $false })
        }
        return
    }
    if ($null -eq (Get-ItemInfo -Path $SetA)) {
        try {
            $script:Native::Move($AsidePath, $SetA, $Context.retry)
        }
        catch {
            $Context.warnings.Add(('{0} now holds the set from {1}; the set that was in {0} is at {2}, not {1}: {3}' -f $SetB, $SetA, $AsidePath, $_.Exception.Message))
        }
    }
}

Function Invoke-WritePointerStep {
    # definfo.dat replaced in one step, its digest checked before the temporary file is written and
    # again right before the replace. Once replaced, the step is done whatever follows (the digest read
    # back is null, with a warning, when definfo.dat cannot be read). The temporary file is removed only
    # while definfo.dat exists: when a failed replace took the old one away, it is the only copy of the
    # new one, reported as POINTER_MISSING with its name, and clean keeps it.
    # 'file' names the store file replaced: definfo.dat (the default) or usage.dat, never anything else.
    param([hashtable]$Context, [string]$Store, [System.Collections.IDictionary]$Arguments)
    $fileName = [string](Get-Field -Map $Arguments -Name 'file' -Default ([string]$Context.wire.definfo))
    if ($fileName -cne [string]$Context.wire.definfo -and $fileName -cne [string]$Context.wire.usage) {
        throw (New-StepOutcome -Result 'failed' -Code 'BAD_REQUEST' -Message ('{0} is not a file a step may replace' -f $fileName))
    }
    $definfo = $script:Names::Join($Store, $fileName)
    try {
        $content = [System.Convert]::FromBase64String([string]$Arguments.content_b64)
    }
    catch {
        throw (New-StepOutcome -Result 'failed' -Code 'BAD_REQUEST' -Message ('content_b64 is not base64: {0}' -f $_.Exception.Message))
    }
    if ($content.Length -gt $Context.max_definfo) {
        throw (New-StepOutcome -Result 'failed' -Code 'BAD_REQUEST' -Message ('the new {0} has {1} bytes, more than {2}' -f $definfo, $content.Length, $Context.max_definfo))
    }
    $expected = [string](Get-Field -Map $Arguments -Name 'expect_sha256')
    $now = Get-DefinfoDigest -Path $definfo
    if ([string]$now -ne $expected) {
        throw (New-StepOutcome -Result 'conflict' -Code $null -Message ('{0} changed since it was read' -f $definfo) -Data @{ sha256 = $now })
    }
    $tempName = '{0}{1}.tmp' -f $Context.wire.definfo_temp_prefix, [System.Guid]::NewGuid().ToString('N')
    $tmp = $script:Names::Join($Store, $tempName)
    $replacing = $false
    try {
        $stream = New-Object -TypeName System.IO.FileStream -ArgumentList @($tmp, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write, [System.IO.FileShare]::None, 4096, [System.IO.FileOptions]::WriteThrough)
        try {
            $stream.Write($content, 0, $content.Length)
            $stream.Flush($true)
        }
        finally {
            $stream.Dispose()
        }
        $now = Get-DefinfoDigest -Path $definfo
        if ([string]$now -ne $expected) {
            throw (New-StepOutcome -Result 'conflict' -Code $null -Message ('{0} changed while the new one was written' -f $definfo) -Data @{ sha256 = $now })
        }
        $replacing = $true
        $script:Native::Replace($definfo, $tmp, $Context.retry)
    }
    catch {
        if ($replacing -and -not [System.IO.File]::Exists($definfo) -and [System.IO.File]::Exists($tmp)) {
            $outcome = Get-StepOutcome -Exception $_.Exception -What ('cannot replace {0}' -f $definfo) -MaxMessage $Context.max_message
            throw (New-StepOutcome -Result 'failed' -Code 'POINTER_MISSING' -Message ('{0}; {1} is gone and the new one is {2}' -f $outcome.message, $definfo, $tempName) -Data @{ sha256 = $null; temp = $tempName })
        }
        throw
    }
    finally {
        if ([System.IO.File]::Exists($tmp) -and (-not $replacing -or [System.IO.File]::Exists($definfo))) {
            try {
                [System.IO.File]::Delete($tmp)
            }
            catch {
                $Context.warnings.Add(('{0} left behind; clean removes it later: {1}' -f $tmp, $_.Exception.Message))
            }
        }
    }
    $sha = $null
    try {
        $sha = Get-DefinfoDigest -Path $definfo
    }
    catch {
        $Context.warnings.Add(('{0} was replaced, but could not be read back: {1}' -f $definfo, $_.Exception.Message))
    }
    return @{ sha256 = $sha; temp = $null }
}

Function Invoke-RetireStep {
    # The set renamed to trash (so no half-deleted set keeps a set's name), then deleted best-effort.
    param([hashtable]$Context, [string]$Store, [System.Collections.IDictionary]$Arguments)
    $name = [string]$Arguments.name
    $folder = Get-StorePath -Store $Store -Name $name
    $item = Get-ItemInfo -Path $folder
    if ($null -eq $item) { return @{ removed = $false; trash = $null; link = $false } }
    if ((Test-ReparsePoint -Item $item) -or -not ($item -is [System.IO.DirectoryInfo])) {
        # a link (junction, symbolic link) named like a set is the link, never its target
        $isLink = Test-ReparsePoint -Item $item
        $left = Remove-Leftover -Path $folder -RetrySeconds $Context.retry
        if ($left.Count -gt 0) { throw (New-StepOutcome -Result 'failed' -Code 'LEFTOVERS_REMAIN' -Message ('{0} could not be removed' -f $folder)) }
        return @{ removed = $true; trash = $null; link = $isLink }
    }
    $trashName = '{0}{1}-{2}' -f $Context.wire.trash_prefix, $name, [System.Guid]::NewGuid().ToString('N').Substring(0, 8)
    $trash = $script:Names::Join($Store, $trashName)
    Move-First -Context $Context -From $folder -To $trash
    $left = Remove-Leftover -Path $trash -RetrySeconds $Context.retry
    if ($left.Count -gt 0) {
        $Context.warnings.Add(('{0} was retired to {1}; {2} entries are still open and stay for the next clean' -f $name, $trashName, $left.Count))
        return @{ removed = $false; trash = $trashName; link = $false }
    }
    return @{ removed = $true; trash = $null; link = $false }
}

Function Copy-TreeVerified {
    # Copy a set to another volume, each file hashed while copied and read back. A truncated listing or
    # a link inside the set fails the copy (the original is then never deleted). Returns the copy's
    # listing: relative path -> @{ size; sha256 }.
    param([hashtable]$Context, [string]$From, [string]$To)
    $listing = Get-RelativeFile -Top (New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $From) -Limit $Context.max_manifest
    if ($listing.truncated) {
        throw (New-StepOutcome -Result 'failed' -Code 'COPY_MISMATCH' -Message ('{0} holds more than {1} files: it is not copied' -f $From, $Context.max_manifest))
    }
    $copied = @{}
    [void][System.IO.Directory]::CreateDirectory($To)
    foreach ($file in $listing.files) {
        if (Test-ReparsePoint -Item $file.item) {
            throw (New-StepOutcome -Result 'failed' -Code 'SET_IS_LINK' -Message ('{0} in {1} is a link: the set is not copied' -f $file.path, $From))
        }
        $dst = [System.IO.Path]::Combine($To, $file.path.Replace('/', '\'))
        [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($dst))
        $copy = $script:Native::CopyHashed($file.item.FullName, $dst, $script:CopyBuffer)
        $back = $script:Native::HashFile($dst, $script:CopyBuffer)
        if ($copy.Changed -or $back.Sha256 -ne $copy.Sha256) {
            throw (New-StepOutcome -Result 'failed' -Code 'COPY_MISMATCH' -Message ('{0} was not copied faithfully to {1}' -f $file.item.FullName, $dst))
        }
        $copied[$file.path] = @{ size = [long]$copy.Stamp.Size; sha256 = [string]$copy.Sha256 }
    }
    return $copied
}

Function Compare-TreeCopy {
    # $null when the folder holds exactly the copied files (names, sizes, digests), else what differs.
    param([hashtable]$Context, [string]$Folder, [hashtable]$Copied)
    $listing = Get-RelativeFile -Top (New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $Folder) -Limit $Context.max_manifest
    if ($listing.truncated) { return ('{0} holds more files than were copied' -f $Folder) }
    $seen = 0
    foreach ($file in $listing.files) {
        if (-not $Copied.ContainsKey($file.path)) { return ('{0} in {1} was not copied' -f $file.path, $Folder) }
        if (Test-ReparsePoint -Item $file.item) { return ('{0} in {1} is a link' -f $file.path, $Folder) }
        $want = $Copied[$file.path]
        $digest = $script:Native::HashFile($file.item.FullName, $script:CopyBuffer)
        if ($digest.Changed -or $digest.Stamp.Size -ne $want.size -or $digest.Sha256 -ne $want.sha256) {
            return ('{0} in {1} differs from the copy' -f $file.path, $Folder)
        }
        $seen += 1
    }
    if ($seen -ne $Copied.Count) { return ('{0} no longer holds every copied file' -f $Folder) }
    return $null
}

Function Invoke-QuarantineStep {
    # The set moved out of the store, never deleted: a rename on the same volume, else copy, verify
    # (source and copy listed again and compared: names, sizes, digests), then delete.
    param([hashtable]$Context, [string]$Store, [System.Collections.IDictionary]$Arguments)
    $from = Get-StorePath -Store $Store -Name ([string]$Arguments.name)
    $destDir = [string]$Arguments.dest_dir
    $to = Get-StorePath -Store $destDir -Name ([string]$Arguments.dest_name)
    if ($null -eq (Get-ItemInfo -Path $from)) {
        throw (New-StepOutcome -Result 'conflict' -Code $null -Message ('{0} is not in the store' -f $from))
    }
    Assert-Free -Path $to
    # created, or checked, as a folder only trusted accounts can change: no set moves into a junction
    $private = $script:PrivateFolder::Ensure($destDir, $true, $null, $false)
    if ($null -ne $private) {
        throw (New-StepOutcome -Result 'failed' -Code 'STORE_NOT_PRIVATE' -Message ('the quarantine folder is not safe: {0}; the set stays in the store' -f $private))
    }
    try {
        Move-First -Context $Context -From $from -To $to
        return @{ destination = $to; copied = $false; bytes_copied = [long]0 }
    }
    catch {
        if ($script:Win32::FromException($_.Exception) -ne 17) { throw }
    }
    $item = Get-ItemInfo -Path $from
    if ($null -ne $item -and (Test-ReparsePoint -Item $item)) {
        throw (New-StepOutcome -Result 'failed' -Code 'SET_IS_LINK' -Message ('{0} is a link and {1} is on another volume: it is not copied' -f $from, $destDir))
    }
    $bytes = [long]0
    try {
        $copied = Copy-TreeVerified -Context $Context -From $from -To $to
        foreach ($entry in $copied.Values) { $bytes += $entry.size }
        foreach ($folder in @($from, $to)) {
            $differs = Compare-TreeCopy -Context $Context -Folder $folder -Copied $copied
            if ($null -ne $differs) {
                throw (New-StepOutcome -Result 'failed' -Code 'COPY_MISMATCH' -Message ('the copy of {0} is not whole: {1}' -f $from, $differs))
            }
        }
    }
    catch {
        $original = $_
        try {
            [void](Remove-Leftover -Path $to -RetrySeconds $Context.retry)
        }
        catch {
            $Context.warnings.Add(('the partial copy {0} could not be removed: {1}' -f $to, $_.Exception.Message))
        }
        throw $original
    }
    # the copy is verified: the set leaves the store by a rename (atomic), then is deleted best-effort
    $trashName = '{0}{1}-{2}' -f $Context.wire.trash_prefix, $Arguments.name, [System.Guid]::NewGuid().ToString('N').Substring(0, 8)
    $trash = $script:Names::Join($Store, $trashName)
    try {
        Move-First -Context $Context -From $from -To $trash
    }
    catch {
        # the set stays in the store: its copy is removed again, so nothing changed
        $outcome = Get-StepOutcome -Exception $_.Exception -What ('{0} cannot leave the store' -f $from) -MaxMessage $Context.max_message
        try {
            $copyLeft = Remove-Leftover -Path $to -RetrySeconds $Context.retry
            if ($copyLeft.Count -gt 0) { $Context.warnings.Add(('the copy {0} could not be removed' -f $to)) }
        }
        catch {
            $Context.warnings.Add(('the copy {0} could not be removed: {1}' -f $to, $_.Exception.Message))
        }
        throw (New-StepOutcome -Result $outcome.result -Code $outcome.code -Message $outcome.message -Data @{ destination = $null; copied = $false; bytes_copied = $bytes })
    }
    $left = Remove-Leftover -Path $trash -RetrySeconds $Context.retry
    if ($left.Count -gt 0) {
        $Context.warnings.Add(('{0} was copied to {1}; its old folder {2} is left for the next clean' -f $Arguments.name, $to, $trashName))
    }
    return @{ destination = $to; copied = $true; bytes_copied = $bytes }
}

Function Invoke-EventStep {
    # The change's events, in the Application log under this collection's source. (events_file: POSIX.)
    param([hashtable]$Context, [System.Collections.IDictionary]$Arguments)
    $events = @($Arguments.events)
    $null = Get-Field -Map $Arguments -Name 'events_file'
    if ($events.Count -eq 0) { return @{ written = 0 } }
    if (-not [System.Diagnostics.EventLog]::SourceExists($script:EventSource)) {
        [System.Diagnostics.EventLog]::CreateEventSource($script:EventSource, 'Application')
    }
    $written = 0
    foreach ($entry in $events) {
        $type = [System.Diagnostics.EventLogEntryType]([string]$entry.type)
        [System.Diagnostics.EventLog]::WriteEntry($script:EventSource, $script:Text::Head([string]$entry.message, $Context.max_message), $type, [int]$entry.id)
        $written += 1
    }
    return @{ written = $written }
}

Function Get-ServiceController {
    # The service by its exact name (no wildcard, unlike Get-Service -Name), status read.
    param([string]$Name)
    $service = New-Object -TypeName System.ServiceProcess.ServiceController -ArgumentList $Name
    try {
        $service.Refresh()
        $null = $service.Status
    }
    catch {
        throw (New-StepOutcome -Result 'failed' -Code 'SERVICE_NOT_FOUND' -Message ('there is no service {0} on this host' -f $Name))
    }
    return $service
}

Function Wait-ServiceStatus {
    # Wait for $Service to reach $Status, at most $Timeout: 'timeout' (SERVICE_TIMEOUT) naming it otherwise.
    param([System.ServiceProcess.ServiceController]$Service, [System.ServiceProcess.ServiceControllerStatus]$Status, [System.TimeSpan]$Timeout, [string]$Action)
    try {
        $Service.WaitForStatus($Status, $Timeout)
    }
    catch {
        $inner = $_.Exception
        while ($null -ne $inner.InnerException) { $inner = $inner.InnerException }
        if ($inner.GetType().FullName -ne 'System.ServiceProcess.TimeoutException') { throw }
        $Service.Refresh()
        throw (New-StepOutcome -Result 'timeout' -Code 'SERVICE_TIMEOUT' -Message ('{0} did not {1} within {2} s; it is {3}' -f $Service.ServiceName, $Action, [int]$Timeout.TotalSeconds, $Service.Status) -Data @{ exit_code = $null; output = [string]$Service.Status })
    }
}

Function Start-ServiceAgain {
    # Start $Name and the dependents that were running before this request stopped it. The service's
    # own failure is thrown; a dependent that does not start is a warning.
    param([hashtable]$Context, [string]$Name, [string[]]$Dependents, [System.TimeSpan]$Timeout)
    $service = Get-ServiceController -Name $Name
    $stopped = [System.ServiceProcess.ServiceControllerStatus]::Stopped
    $running = [System.ServiceProcess.ServiceControllerStatus]::Running
    if ($service.Status -eq [System.ServiceProcess.ServiceControllerStatus]::StopPending) { Wait-ServiceStatus -Service $service -Status $stopped -Timeout $Timeout -Action 'stop' }
    if ($service.Status -ne $running) {
        if ($service.Status -ne [System.ServiceProcess.ServiceControllerStatus]::StartPending) { $service.Start() }
        Wait-ServiceStatus -Service $service -Status $running -Timeout $Timeout -Action 'start'
    }
    foreach ($dependent in $Dependents) {
        try {
            $other = Get-ServiceController -Name $dependent
            if ($other.Status -ne $running) {
                if ($other.Status -ne [System.ServiceProcess.ServiceControllerStatus]::StartPending) { $other.Start() }
                Wait-ServiceStatus -Service $other -Status $running -Timeout $Timeout -Action 'start'
            }
        }
        catch {
            $Context.warnings.Add(('{0} depends on {1} and was running before the change; it did not start again: {2}' -f $dependent, $Name, $_.Exception.Message))
        }
    }
    $service.Refresh()
    return $service
}

Function Invoke-ServiceStep {
    # Stop or start the SMSMSE service and wait for it, at most 'timeout' seconds. (command: POSIX.)
    # stop records the service and its running dependents in $Context.stopped before it stops anything
    # (dependents first, each waited for, so a timeout names the service it belongs to); start with
    # only_if_stopped_here starts only a service this request stopped, and its dependents with it.
    param([hashtable]$Context, [System.Collections.IDictionary]$Arguments)
    $name = [string](Get-Field -Map $Arguments -Name 'service' -Default '')
    $null = Get-Field -Map $Arguments -Name 'command'
    $action = [string]$Arguments.action
    $timeout = [System.TimeSpan]::FromSeconds([int]$Arguments.timeout)
    if ($name -eq '') {
        throw (New-StepOutcome -Result 'failed' -Code 'NOT_CONFIGURED' -Message 'no service name was given')
    }
    $stopped = [System.ServiceProcess.ServiceControllerStatus]::Stopped
    $running = [System.ServiceProcess.ServiceControllerStatus]::Running
    if ($action -eq 'stop') {
        $service = Get-ServiceController -Name $name
        if ($service.Status -eq $stopped) {
            return @{ exit_code = $null; output = ('{0}: {1} (it was not running: this request will not start it)' -f $name, $service.Status); stopped = $false; started = $false; dependents = @() }
        }
        $dependents = New-Object -TypeName 'System.Collections.Generic.List[string]'
        foreach ($dependent in $service.DependentServices) {
            if ($dependent.Status -eq $running) { $dependents.Add($dependent.ServiceName) }
        }
        $Context.stopped[$name] = @{ dependents = $dependents.ToArray(); timeout = $timeout }
        foreach ($dependentName in $dependents) {
            $other = Get-ServiceController -Name $dependentName
            if ($other.Status -ne $stopped) {
                if ($other.Status -ne [System.ServiceProcess.ServiceControllerStatus]::StopPending) { $other.Stop() }
                Wait-ServiceStatus -Service $other -Status $stopped -Timeout $timeout -Action 'stop'
            }
        }
        $service.Refresh()
        if ($service.Status -ne $stopped) {
            if ($service.Status -ne [System.ServiceProcess.ServiceControllerStatus]::StopPending) { $service.Stop() }
            Wait-ServiceStatus -Service $service -Status $stopped -Timeout $timeout -Action 'stop'
        }
        return @{ exit_code = $null; output = ('{0}: {1}' -f $name, $stopped); stopped = $true; started = $false; dependents = $dependents.ToArray() }
    }
    $onlyIfStoppedHere = [bool](Get-Field -Map $Arguments -Name 'only_if_stopped_here' -Default $false)
    $dependents = @()
    if ($Context.stopped.ContainsKey($name)) {
        $dependents = @($Context.stopped[$name].dependents)
    }
    elseif ($onlyIfStoppedHere) {
        return @{ exit_code = $null; output = ('{0}: not started (this request did not stop it)' -f $name); started = $false; dependents = @() }
    }
    try {
        $service = Start-ServiceAgain -Context $Context -Name $name -Dependents $dependents -Timeout $timeout
    }
    finally {
        # tried: the end of the request does not try again
        [void]$Context.stopped.Remove($name)
    }
    return @{ exit_code = $null; output = ('{0}: {1}' -f $name, $service.Status); started = $true; dependents = $dependents }
}

Function Invoke-Step {
    # One primitive, never a crash of the agent: any exception ends the step with the system's code and text.
    param([hashtable]$Context, [System.Collections.IDictionary]$Step)
    $op = [string]$Step.op
    $store = [string]$Step.store
    $arguments = $Step.args
    try {
        if (-not [System.IO.Path]::IsPathRooted($store) -or $store.StartsWith('\\?\')) {
            throw (New-StepOutcome -Result 'failed' -Code 'BAD_REQUEST' -Message ('{0} is not a full path' -f $store))
        }
        if ($store.Length -gt $Context.max_path) {
            throw (New-StepOutcome -Result 'failed' -Code 'BAD_REQUEST' -Message ('the store path has {0} characters, more than {1}' -f $store.Length, $Context.max_path))
        }
        $manifest = Get-Field -Map $arguments -Name 'manifest'
        if ($null -ne $manifest -and $manifest.Count -gt $Context.max_manifest) {
            throw (New-StepOutcome -Result 'failed' -Code 'BAD_REQUEST' -Message ('the manifest lists {0} files, more than {1}' -f $manifest.Count, $Context.max_manifest))
        }
        $events = Get-Field -Map $arguments -Name 'events'
        if ($null -ne $events -and @($events).Count -gt $Context.max_events) {
            throw (New-StepOutcome -Result 'failed' -Code 'BAD_REQUEST' -Message ('the step has {0} events, more than {1}' -f @($events).Count, $Context.max_events))
        }
        switch ($op) {
            'lock' { $data = Invoke-LockStep -Context $Context -Store $store -Arguments $arguments }
            'expect' { $data = Invoke-ExpectStep -Context $Context -Store $store -Arguments $arguments }
            'preflight' { $data = Invoke-PreflightStep -Context $Context -Store $store -Arguments $arguments }
            'clean' { $data = Invoke-CleanStep -Context $Context -Store $store }
            'stage' { $data = Invoke-StageStep -Context $Context -Store $store -Arguments $arguments }
            'fetch' { $data = Invoke-FetchStep -Context $Context -Store $store -Arguments $arguments }
            'matches' { $data = Invoke-MatchesStep -Context $Context -Store $store -Arguments $arguments }
            'rename' { $data = Invoke-RenameStep -Context $Context -Store $store -Arguments $arguments }
            'exchange' { $data = Invoke-ExchangeStep -Context $Context -Store $store -Arguments $arguments }
            'write_pointer' { $data = Invoke-WritePointerStep -Context $Context -Store $store -Arguments $arguments }
            'retire' { $data = Invoke-RetireStep -Context $Context -Store $store -Arguments $arguments }
            'quarantine' { $data = Invoke-QuarantineStep -Context $Context -Store $store -Arguments $arguments }
            'event' { $data = Invoke-EventStep -Context $Context -Arguments $arguments }
            'service' { $data = Invoke-ServiceStep -Context $Context -Arguments $arguments }
            'unlock' { $data = Invoke-UnlockStep -Context $Context -Store $store }
            default { throw (New-StepOutcome -Result 'failed' -Code 'BAD_REQUEST' -Message ('{0} is not a primitive of this agent' -f $op)) }
        }
        return @{ op = $op; result = 'done'; code = $null; message = ''; data = $data }
    }
    catch {
        $outcome = Get-StepOutcome -Exception $_.Exception -What $op -MaxMessage $Context.max_message
        $result = $outcome.result
        if ($result -ne 'failed' -and -not ($script:StepResults.ContainsKey($op) -and $script:StepResults[$op] -contains $result)) {
            $result = 'failed'
        }
        $data = $outcome.data
        if ($null -eq $data) { $data = @{} }
        return @{ op = $op; result = $result; code = $outcome.code; message = $outcome.message; data = $data }
    }
}

Function Invoke-Apply {
    # Every step in order; after a required step that did not end 'done', only 'always' steps of its
    # group run. A group starts at its lock step and the next one starts afresh; a failure before the
    # first lock blocks the whole request. A skipped step's message names the step that blocked it.
    param([System.Collections.IDictionary]$Request)
    $wire = $Request.wire
    $context = @{
        wire = $wire
        cache_dir = [string](Get-Field -Map $Request -Name 'cache_dir' -Default '')
        retry = [int]$wire.limits.retry_seconds
        max_message = [int]$wire.limits.max_message
        max_list = [int]$wire.limits.max_list
        max_definfo = [long]$wire.limits.max_definfo_bytes
        max_path = [int]$wire.limits.max_path
        max_manifest = [int]$wire.limits.max_manifest_files
        max_events = [int]$wire.limits.max_events
        locks = New-Object -TypeName 'System.Collections.Generic.Dictionary[string, object]' -ArgumentList ([System.StringComparer]::OrdinalIgnoreCase)
        stopped = New-Object -TypeName 'System.Collections.Generic.Dictionary[string, object]' -ArgumentList ([System.StringComparer]::OrdinalIgnoreCase)
        warnings = New-Object -TypeName 'System.Collections.Generic.List[string]'
    }
    if (@($Request.steps).Count -gt [int]$wire.limits.max_steps) {
        throw ('the request has {0} steps, more than the contract allows ({1})' -f @($Request.steps).Count, $wire.limits.max_steps)
    }
    $steps = New-Object -TypeName 'System.Collections.Generic.List[object]'
    $halted = $null
    $opened = $false
    $haltedInGroup = $false
    $index = -1
    try {
        foreach ($step in @($Request.steps)) {
            $index += 1
            if ([string]$step.op -eq 'lock') {
                # a group starts at its lock: what failed in an earlier group does not block it
                if ($haltedInGroup) { $halted = $null }
                $opened = $true
            }
            if ($null -ne $halted -and -not [bool]$step.always) {
                $steps.Add(@{ op = [string]$step.op; result = 'skipped'; code = $null; message = $script:Text::Head(('skipped: ' + $halted), $context.max_message); data = @{} })
                continue
            }
            $reply = Invoke-Step -Context $context -Step $step
            $steps.Add($reply)
            if ([bool]$step.required -and $reply.result -ne 'done' -and $null -eq $halted) {
                $halted = 'the required step {0} ({1} in {2}) ended {3}' -f $index, [string]$step.op, [string]$step.store, $reply.result
                if (-not [string]::IsNullOrEmpty([string]$reply.message)) { $halted += ': ' + [string]$reply.message }
                # before the first lock, a failure blocks the whole request
                $haltedInGroup = $opened
            }
        }
    }
    finally {
        # a service this request stopped and no start step started (the request was stopped, a step threw
        # past Invoke-Step, or the plan had no start): started here, never left down
        foreach ($name in @($context.stopped.Keys)) {
            $record = $context.stopped[$name]
            [void]$context.stopped.Remove($name)
            try {
                [void](Start-ServiceAgain -Context $context -Name $name -Dependents @($record.dependents) -Timeout $record.timeout)
                $context.warnings.Add(('{0} was stopped by this request and started again at its end (no start step ran)' -f $name))
            }
            catch {
                $context.warnings.Add(('{0} was stopped by this request and could not be started again: {1}' -f $name, $_.Exception.Message))
            }
        }
        foreach ($store in @($context.locks.Keys)) {
            $context.locks[$store].Dispose()
            $context.warnings.Add(('the lock on {0} was released at the end of the request (no unlock step ran)' -f $store))
        }
    }
    $warnings = New-Object -TypeName 'System.Collections.Generic.List[string]'
    foreach ($warning in $context.warnings) {
        if ($warnings.Count -ge 64) { break }
        $warnings.Add($script:Text::Head($warning, $context.max_message))
    }
    return @{ contract = 1; op = 'apply'; steps = $steps; warnings = $warnings }
}

Export-ModuleMember -Function Invoke-Apply
