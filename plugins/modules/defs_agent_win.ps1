#!powershell

# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy
#AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative
#AnsibleRequires -PowerShell ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseStore
#AnsibleRequires -PowerShell ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseProbe
#AnsibleRequires -PowerShell ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseApply

# The target half of the mailsec.smsmse.defs_* modules on Windows hosts: one operation of the
# agent contract (schemas/agent/*.json) per call. probe reports what the host holds (SmsmseProbe),
# apply executes the controller's primitive steps (SmsmseApply), run_liveupdate runs LuALL.exe.
# Every decision is made on the controller. Windows PowerShell 5.1 and .NET Framework 4.x only.

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$spec = @{
    options = @{
        op = @{ type = 'str'; required = $true; choices = @('probe', 'apply', 'run_liveupdate') }
        request = @{ type = 'dict'; required = $true }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$Processes = [ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative.Processes]
$Text = [ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy.Text]
#: run_liveupdate.reply.json: output and program are at most this long
$MaxOutput = 4096
$MaxProgram = 1024

Function Expand-Variable {
    param([string]$Template)
    return [System.Environment]::ExpandEnvironmentVariables($Template)
}

Function Invoke-LiveUpdate {
    # LuALL.exe silently, its arguments quoted by the Windows rules, in a kill-on-close job object, waited for
    # at most 'timeout' seconds; on timeout the job's processes are stopped. The reply carries the exit code
    # (result 'exited') and the output's tail; whether that is success is the controller's call.
    param([System.Collections.IDictionary]$Request)
    $reply = @{ contract = 1; op = 'run_liveupdate'; result = 'not_found'; exit_code = $null; duration = 0.0; program = $null; output = '' }
    $null = $Request.command
    $candidates = @($Request.luall_candidates)
    $program = $null
    foreach ($candidate in $candidates) {
        $path = Expand-Variable -Template ([string]$candidate)
        if ([System.IO.File]::Exists($path)) {
            $program = $path
            break
        }
    }
    if ($null -eq $program) {
        $reply.output = $Text::Head(('LuALL.exe was not found at {0}' -f ($candidates -join '; ')), $MaxOutput)
        return $reply
    }
    $reply.program = $Text::Head($program, $MaxProgram)
    $arguments = [string[]]@($Request.arguments | ForEach-Object { [string]$_ })
    try {
        $run = $Processes::Run($program, $arguments, [int]$Request.timeout, $MaxOutput)
    }
    catch {
        $inner = $_.Exception
        while ($null -ne $inner.InnerException) { $inner = $inner.InnerException }
        $reply.result = 'failed'
        $reply.output = $Text::Head(('{0} could not be started: {1}' -f $program, $inner.Message), $MaxOutput)
        return $reply
    }
    $reply.duration = [Math]::Round($run.Seconds, 3)
    $reply.output = $Text::Tail([string]$run.Output, $MaxOutput)
    if ($run.TimedOut) {
        $reply.result = 'timeout'
        # what was stopped, and only that: a COM server Windows started for LuALL is not LuALL's child
        $stopped = 'LuALL.exe and the processes it started were stopped'
        if (-not $run.InJob) { $stopped = 'LuALL.exe and its child processes still running were stopped' }
        $note = 'LuALL.exe did not finish within {0} s; {1}. A LiveUpdate component Windows started on its behalf (a COM server) may still be running' -f $Request.timeout, $stopped
        $reply.output = $Text::Tail(($reply.output + $note), $MaxOutput)
    }
    elseif ($run.Exited) {
        # the exit code only: the controller judges it
        $reply.exit_code = $run.ExitCode
        $reply.result = 'exited'
    }
    return $reply
}

$request = $module.Params.request
$op = $module.Params.op
if ($module.CheckMode -and $op -ne 'probe') {
    $module.FailJson(('{0} changes the host and does not run in check mode; the controller plans it instead' -f $op))
}
try {
    switch ($op) {
        'probe' { $module.Result.reply = Invoke-Probe -Request $request -CheckMode $module.CheckMode }
        'apply' { $module.Result.reply = Invoke-Apply -Request $request }
        'run_liveupdate' { $module.Result.reply = Invoke-LiveUpdate -Request $request }
    }
}
catch {
    $module.FailJson(('the {0} operation failed: {1}' -f $op, $_.Exception.Message), $_)
}
$module.Result.changed = $false
$module.ExitJson()
