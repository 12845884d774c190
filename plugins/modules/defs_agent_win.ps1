#!powershell

# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine
#AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineWin

# The reading half of the mailsec.smsmse.defs_* modules on Windows hosts: a shim over the C# engine
# (SmsmseEngine.cs), which carries out the probe of the agent contract (schemas/agent/*.json) on the
# Windows host (SmsmseEngineWin.cs). The change code (SmsmseEngineApply.cs) is neither sent nor
# compiled for a probe: apply and run_liveupdate are served by defs_agent_win_change.ps1. The same
# engine runs under mono in the project's tests against the shared case tables. Windows PowerShell
# 5.1 and .NET Framework 4.x.

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$spec = @{
    options = @{
        op = @{ type = 'str'; required = $true; choices = @(, 'probe') }
        request = @{ type = 'dict' }
        request_json = @{ type = 'str' }
        deadline_seconds = @{ type = 'int'; default = 3600 }
    }
    required_one_of = @(, @('request', 'request_json'))
    mutually_exclusive = @(, @('request', 'request_json'))
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$op = $module.Params.op

$runtime = 'PowerShell {0}, .NET {1}' -f $PSVersionTable.PSVersion, [System.Environment]::Version
$target = [ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineWin.Hosts]::Windows($runtime)
try {
    $request = $module.Params.request
    if ($null -ne $module.Params.request_json) { $request = [ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine.Json]::Parse($module.Params.request_json) }
    $module.Result.reply = [ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine.Agent]::Run($op, $request, $module.CheckMode, $target, $module.Params.deadline_seconds)
}
catch {
    $inner = $_.Exception
    while ($null -ne $inner.InnerException) { $inner = $inner.InnerException }
    $module.FailJson(('the {0} operation failed: {1}' -f $op, $inner.Message), $_)
}
$module.Result.changed = $false
$module.ExitJson()
