# The definition stores of the Windows integration targets, built and inspected on the test host.
# One self-contained script (ansible.builtin.script copies a single file), one action per call; it
# prints JSON. Windows PowerShell 5.1.
#
#   new       build $Root, secured as the product's installer secures its folders (Set-InstallerAcl):
#             stores hawking (20261123.001, 20261125.003 active) and csapi (20261123.001 active), a decoy
#             set outside the stores, and the service $ServiceName that behaves like
#             the SMSMSE scanner: while it runs it holds the active CSAPI set's files open and has its
#             naveng32.dll loaded
#   state     what the stores hold: pointers, sets (complete: exactly the true bytes), leftovers, lock,
#             definfo.dat's attributes and security descriptor, quarantined sets, the decoy, the service
#   set       write set $Version into $Store (true bytes)      corrupt   change one byte of a set's file
#   tamper    corrupt, then set the file's last write time back (what the hash cache must not trust)
#   point     make $Store's definfo.dat name $Version           junction  make $Store\$Version a junction
#   readonly  set definfo.dat read-only                          service   start or stop the holder
param(
    [Parameter(Mandatory = $true)][ValidateSet('new', 'state', 'set', 'corrupt', 'tamper', 'point', 'junction', 'readonly', 'service')][string]$Action,
    [Parameter(Mandatory = $true)][string]$Root,
    [string]$Store = 'csapi',
    [string]$Version = '',
    [ValidateSet('running', 'stopped')][string]$Service = 'running',
    [string]$ServiceName = 'SmsmseTestHolder'
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0

$Files = @('naveng32.dll', 'navex32a.dll', 'virscan1.dat', 'zdone.dat')

$holderSource = @'
using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.ServiceProcess;

public sealed class HolderService : ServiceBase
{
    [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
    private static extern IntPtr LoadLibraryEx(string path, IntPtr reserved, uint flags);

    [DllImport("kernel32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static extern bool FreeLibrary(IntPtr module);

    private const uint DONT_RESOLVE_DLL_REFERENCES = 0x1;
    private readonly string store;
    private readonly List<FileStream> held = new List<FileStream>();
    private IntPtr library = IntPtr.Zero;

    public HolderService(string name, string store)
    {
        this.store = store;
        ServiceName = name;
    }

    private string ActiveSet()
    {
        foreach (string line in File.ReadAllLines(Path.Combine(store, "definfo.dat")))
        {
            if (line.StartsWith("CurDefs=", StringComparison.OrdinalIgnoreCase))
            {
                return Path.Combine(store, line.Substring(8).Trim());
            }
        }
        throw new InvalidOperationException("definfo.dat names no set");
    }

    protected override void OnStart(string[] args)
    {
        foreach (string file in Directory.GetFiles(ActiveSet()))
        {
            if (file.EndsWith("naveng32.dll", StringComparison.OrdinalIgnoreCase))
            {
                library = LoadLibraryEx(file, IntPtr.Zero, DONT_RESOLVE_DLL_REFERENCES);
            }
            else
            {
                held.Add(new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read));
            }
        }
    }

    protected override void OnStop()
    {
        foreach (FileStream stream in held)
        {
            stream.Dispose();
        }
        held.Clear();
        if (library != IntPtr.Zero)
        {
            FreeLibrary(library);
            library = IntPtr.Zero;
        }
    }

    public static void Main(string[] args)
    {
        ServiceBase.Run(new HolderService(args[0], args[1]));
    }
}
'@


Function Remove-TestTree {
    # Remove a folder without ever following a junction or link inside it.
    param([string]$Path)
    $item = Get-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
    if ($null -eq $item) { return }
    if (($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) -ne 0) {
        [System.IO.Directory]::Delete($item.FullName, $false)
        return
    }
    foreach ($child in @($item.GetFileSystemInfos())) {
        if ($child -is [System.IO.DirectoryInfo]) {
            Remove-TestTree -Path $child.FullName
        }
        else {
            $child.Attributes = [System.IO.FileAttributes]::Normal
            $child.Delete()
        }
    }
    [System.IO.Directory]::Delete($item.FullName, $false)
}

Function Set-InstallerAcl {
    # Secure $Path as the product's installer secures its folders: owned by Administrators, inheritance from the
    # parent cut (no CREATOR OWNER entry for the admin who runs this), full control for SYSTEM and Administrators
    # and read for Users, inherited by every folder and file below. The store privacy rule accepts this.
    param([string]$Path)
    $acl = New-Object -TypeName System.Security.AccessControl.DirectorySecurity
    $acl.SetAccessRuleProtection($true, $false)
    $inherit = [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit'
    $propagate = [System.Security.AccessControl.PropagationFlags]::None
    foreach ($grant in @(@('S-1-5-18', 'FullControl'), @('S-1-5-32-544', 'FullControl'), @('S-1-5-32-545', 'ReadAndExecute'))) {
        $sid = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList $grant[0]
        $rule = New-Object -TypeName System.Security.AccessControl.FileSystemAccessRule -ArgumentList $sid, $grant[1], $inherit, $propagate, 'Allow'
        $acl.AddAccessRule($rule)
    }
    $acl.SetOwner((New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList 'S-1-5-32-544'))
    Set-Acl -LiteralPath $Path -AclObject $acl
}

Function Get-TrueBytes {
    # The true content of a set's file: naveng32.dll is a real DLL (so it can be loaded), the others are
    # deterministic bytes derived from the version and the name.
    param([string]$Version, [string]$Name)
    if ($Name -eq 'naveng32.dll') { return , [System.IO.File]::ReadAllBytes((Join-Path ([System.Environment]::SystemDirectory) 'version.dll')) }
    if ($Name -eq 'zdone.dat') { return , [System.Text.Encoding]::ASCII.GetBytes("done`r`n") }
    $sha = [System.Security.Cryptography.SHA256]::Create()
    $seed = $sha.ComputeHash([System.Text.Encoding]::UTF8.GetBytes($Version + '/' + $Name))
    $bytes = New-Object -TypeName byte[] -ArgumentList 65536
    for ($i = 0; $i -lt $bytes.Length; $i++) { $bytes[$i] = $seed[$i % 32] -bxor ($i -band 0xff) }
    $sha.Dispose()
    return , $bytes
}

Function Get-Sha256 {
    param([byte[]]$Bytes)
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try { return ([System.BitConverter]::ToString($sha.ComputeHash($Bytes)) -replace '-', '').ToLowerInvariant() } finally { $sha.Dispose() }
}

Function Write-DefsSet {
    param([string]$Folder, [string]$Version)
    [void](New-Item -ItemType Directory -Path $Folder -Force)
    foreach ($name in $Files) { [System.IO.File]::WriteAllBytes((Join-Path $Folder $name), (Get-TrueBytes -Version $Version -Name $name)) }
}

Function Write-Pointer {
    param([string]$Folder, [string]$Version)
    $text = "[DefDates]`r`nCurDefs=$Version`r`n"
    [System.IO.File]::WriteAllText((Join-Path $Folder 'definfo.dat'), $text, [System.Text.Encoding]::ASCII)
}

Function Get-SetState {
    param([System.IO.DirectoryInfo]$Folder)
    $link = ($Folder.Attributes -band [System.IO.FileAttributes]::ReparsePoint) -ne 0
    $complete = -not $link
    $names = @()
    if (-not $link) {
        $names = @($Folder.GetFiles() | ForEach-Object { $_.Name })
        if ((@($names | Sort-Object) -join '|') -ne (@($Files | Sort-Object) -join '|')) { $complete = $false }
        foreach ($name in $names) {
            if ($Files -notcontains $name) { continue }
            $want = Get-Sha256 -Bytes (Get-TrueBytes -Version $Folder.Name -Name $name)
            $have = Get-Sha256 -Bytes ([System.IO.File]::ReadAllBytes((Join-Path $Folder.FullName $name)))
            if ($want -ne $have) { $complete = $false }
        }
    }
    return @{ link = $link; complete = $complete; files = $names }
}

Function Get-StoreState {
    param([string]$Folder)
    $definfo = Join-Path $Folder 'definfo.dat'
    $state = @{ definfo = $null; readonly = $false; sddl = $null; sets = @{}; leftovers = @(); lock = (Test-Path -LiteralPath (Join-Path $Folder '.smsmse-lock')) }
    if (Test-Path -LiteralPath $definfo) {
        $match = [System.Text.RegularExpressions.Regex]::Match([System.IO.File]::ReadAllText($definfo), '(?m)^CurDefs=([0-9]{8}\.[0-9]{3})\r?$')
        if ($match.Success) { $state.definfo = $match.Groups[1].Value }
        $state.readonly = ((Get-Item -LiteralPath $definfo -Force).Attributes -band [System.IO.FileAttributes]::ReadOnly) -ne 0
        $state.sddl = (Get-Acl -LiteralPath $definfo).Sddl
    }
    foreach ($item in @((New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $Folder).GetFileSystemInfos())) {
        if ($item.Name.StartsWith('.smsmse-') -and $item.Name -ne '.smsmse-lock') { $state.leftovers += $item.Name }
        elseif ($item -is [System.IO.DirectoryInfo] -and $item.Name -match '^[0-9]{8}\.[0-9]{3}$') { $state.sets[$item.Name] = Get-SetState -Folder $item }
    }
    return $state
}

$paths = [ordered]@{
    root = $Root
    hawking = Join-Path $Root 'hawking'
    csapi = Join-Path $Root 'csapi'
    decoy = Join-Path $Root 'decoy'
    quarantine = Join-Path $Root 'quarantine'
    cache = Join-Path $Root 'cache'
    bin = Join-Path $Root 'bin'
    service = $ServiceName
}

switch ($Action) {
    'new' {
        $existing = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
        if ($null -ne $existing) {
            if ($existing.Status -ne 'Stopped') { Stop-Service -Name $ServiceName -Force }
            [void](& sc.exe delete $ServiceName)
        }
        Remove-TestTree -Path $Root
        [void](New-Item -ItemType Directory -Path $Root -Force)
        Set-InstallerAcl -Path $Root
        foreach ($name in @('hawking', 'csapi', 'decoy', 'bin')) { [void](New-Item -ItemType Directory -Path $paths[$name] -Force) }
        $exe = Join-Path $paths.bin 'holder.exe'
        Add-Type -TypeDefinition $holderSource -ReferencedAssemblies System.ServiceProcess -OutputAssembly $exe -OutputType ConsoleApplication
        [void](New-Service -Name $ServiceName -BinaryPathName ('"{0}" "{1}" "{2}"' -f $exe, $ServiceName, $paths.csapi) -StartupType Manual)
        Write-DefsSet -Folder (Join-Path $paths.hawking '20261123.001') -Version '20261123.001'
        Write-DefsSet -Folder (Join-Path $paths.hawking '20261125.003') -Version '20261125.003'
        Write-Pointer -Folder $paths.hawking -Version '20261125.003'
        Write-DefsSet -Folder (Join-Path $paths.csapi '20261123.001') -Version '20261123.001'
        Write-Pointer -Folder $paths.csapi -Version '20261123.001'
        Write-DefsSet -Folder (Join-Path $paths.decoy '20261124.002') -Version '20261124.002'
        $paths | ConvertTo-Json -Compress
    }
    'state' {
        $quarantined = @()
        if (Test-Path -LiteralPath $paths.quarantine) { $quarantined = @(Get-ChildItem -LiteralPath $paths.quarantine -Force | ForEach-Object { $_.Name }) }
        @{
            hawking = Get-StoreState -Folder $paths.hawking
            csapi = Get-StoreState -Folder $paths.csapi
            decoy = Get-SetState -Folder (Get-Item -LiteralPath (Join-Path $paths.decoy '20261124.002'))
            quarantined = $quarantined
            service = [string](Get-Service -Name $ServiceName).Status
        } | ConvertTo-Json -Depth 6 -Compress
    }
    'set' { Write-DefsSet -Folder (Join-Path $paths[$Store] $Version) -Version $Version; '{}' }
    'corrupt' {
        $file = Join-Path (Join-Path $paths[$Store] $Version) 'virscan1.dat'
        $bytes = [System.IO.File]::ReadAllBytes($file)
        $bytes[100] = $bytes[100] -bxor 0xff
        [System.IO.File]::WriteAllBytes($file, $bytes)
        '{}'
    }
    'tamper' {
        $file = Join-Path (Join-Path $paths[$Store] $Version) 'virscan1.dat'
        $written = [System.IO.File]::GetLastWriteTimeUtc($file)
        $bytes = [System.IO.File]::ReadAllBytes($file)
        $bytes[200] = $bytes[200] -bxor 0xff
        [System.IO.File]::WriteAllBytes($file, $bytes)
        [System.IO.File]::SetLastWriteTimeUtc($file, $written)
        '{}'
    }
    'point' { Write-Pointer -Folder $paths[$Store] -Version $Version; '{}' }
    'junction' {
        [void](New-Item -ItemType Junction -Path (Join-Path $paths[$Store] $Version) -Value (Join-Path $paths.decoy '20261124.002'))
        '{}'
    }
    'readonly' {
        $item = Get-Item -LiteralPath (Join-Path $paths[$Store] 'definfo.dat') -Force
        $item.Attributes = $item.Attributes -bor [System.IO.FileAttributes]::ReadOnly
        '{}'
    }
    'service' {
        if ($Service -eq 'running') { Start-Service -Name $ServiceName } else { Stop-Service -Name $ServiceName -Force }
        '{}'
    }
}
