"""The Windows agent's apply, held statically to the fixes of the Windows review (findings 1, 3, 6-9, 12, 13).

Each check reads the function that carries the rule (``ps_static.functions``) and is shown to
reject the code it replaced (the ``*_before`` snippets are the agent's code before the fix).
The C# side runs under mono (``test_csharp_apply.py``); the controller side in
``test_outcome_service.py`` and ``test_plan.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from . import ps_static
from .test_agent_win_static import APPLY

ROOT = Path(__file__).resolve().parents[2]


def body(name: str, source: bytes = APPLY) -> str:
    return ps_static.functions(source)[name].decode()


def finally_of(text: str) -> str:
    """The last top-level ``finally { ... }`` block of a function's text (braces balanced)."""
    start = text.rindex("finally {")
    depth = 0
    for i in range(start + len("finally "), len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start : i + 1]
    raise AssertionError("unbalanced finally")


# --- finding 12: the codes are the contract's ---


def contract_codes() -> set[str]:
    """The codes of docs/changes.md's code table."""
    text = (ROOT / "docs" / "changes.md").read_text(encoding="utf-8")
    return set(re.findall(r"(?m)^\| `([A-Z_]+)` +\|", text))


def literal_codes(source: bytes) -> set[str]:
    return set(re.findall(r"-Code '([A-Za-z0-9_]+)'", source.decode()))


def test_every_literal_code_is_in_the_contract_table() -> None:
    codes = literal_codes(APPLY)
    assert codes, "no literal codes found: is the pattern right?"
    assert sorted(codes - contract_codes()) == []


def test_the_code_check_rejects_the_old_codes() -> None:
    before = b"throw (New-StepOutcome -Result 'failed' -Code 'UNKNOWN_OP' -Message 'x')\n-Code 'TOO_LARGE'\n-Code 'ERROR_INVALID_NAME'"
    assert literal_codes(before) - contract_codes() == {"UNKNOWN_OP", "TOO_LARGE", "ERROR_INVALID_NAME"}


# --- findings 1 and 8: write_pointer ---


def write_pointer_keeps_the_new_file(text: str) -> bool:
    # the temporary file is deleted only while definfo.dat exists (or the replace never started)
    cleanup = finally_of(text)
    return bool(
        re.search(
            r"if \(\[System\.IO\.File\]::Exists\(\$tmp\) -and \(-not \$replacing -or \[System\.IO\.File\]::Exists\(\$definfo\)\)\)", cleanup
        )
    )


def write_pointer_reports_missing(text: str) -> bool:
    return "-Code 'POINTER_MISSING'" in text and "temp = $tempName" in text


def write_pointer_rechecks_before_replace(text: str) -> bool:
    # the digest is read again after the temporary file is written and right before the replace
    tail = text[text.index("$stream.Dispose()") :]
    check = tail.find("$now = Get-DefinfoDigest -Path $definfo")
    replace = tail.find("$script:Native::Replace($definfo, $tmp, $Context.retry)")
    return 0 <= check < replace and "-Result 'conflict'" in tail[check:replace]


def write_pointer_never_fails_after_replace(text: str) -> bool:
    if "$sha = $null" not in text:
        return False
    after = text[text.rindex("$sha = $null") :]
    return bool(
        re.search(r"try \{\n\s+\$sha = Get-DefinfoDigest -Path \$definfo\n\s+\}\n\s+catch \{\n\s+\$Context\.warnings\.Add", after)
    ) and ("throw" not in after)


WRITE_POINTER_BEFORE = """Function Invoke-WritePointerStep {
    $now = Get-DefinfoDigest -Path $definfo
    $tmp = $script:Names::Join($Store, 'x.tmp')
    try {
        $stream.Dispose()
        $script:Native::Replace($definfo, $tmp, $Context.retry)
    }
    finally {
        try {
            if ([System.IO.File]::Exists($tmp)) { [System.IO.File]::Delete($tmp) }
        }
        catch {
            $Context.warnings.Add('x')
        }
    }
    return @{ sha256 = Get-DefinfoDigest -Path $definfo }
}
"""


@pytest.mark.parametrize(
    "check",
    [
        write_pointer_keeps_the_new_file,
        write_pointer_reports_missing,
        write_pointer_rechecks_before_replace,
        write_pointer_never_fails_after_replace,
    ],
)
def test_write_pointer(check: Callable[[str], bool]) -> None:
    assert check(body("Invoke-WritePointerStep"))
    assert not check(body("Invoke-WritePointerStep", WRITE_POINTER_BEFORE.encode()))


def test_clean_keeps_a_pointer_temp_while_definfo_is_missing() -> None:
    text = body("Invoke-CleanStep")
    assert "$pointerThere = [System.IO.File]::Exists($script:Names::Join($Store, [string]$wire.definfo))" in text
    keep = text.index("if ($tempLike -and -not $pointerThere) {")
    assert keep < text.index("Remove-Leftover") and "$remaining.Add($name)" in text[keep : keep + 200]


# --- finding 7: the exchange's aside ---


def test_exchange_puts_right_what_it_left_in_its_finally() -> None:
    text = body("Invoke-ExchangeStep")
    assert "$Context.wire.exchange_aside_prefix" in text and "trash_prefix" not in text
    assert "Complete-Exchange -Context $Context -SetA $a -SetB $b -AsidePath $aside" in finally_of(text)
    complete = body("Complete-Exchange")
    put_back = complete.index("$script:Native::Move($AsidePath, $SetB, $Context.retry)")
    assert complete.index("if ($null -eq (Get-ItemInfo -Path $SetB)) {") < put_back
    assert "$script:Native::Move($AsidePath, $SetA, $Context.retry)" in complete


def test_exchange_before_had_no_finally() -> None:
    before = b"Function Invoke-ExchangeStep {\n    $script:Native::Move($b, $aside, $Context.retry)\n    try { } catch { }\n}\n"
    with pytest.raises(ValueError):
        finally_of(body("Invoke-ExchangeStep", before))


def test_clean_puts_asides_back_first_and_never_deletes_one_whose_name_is_missing() -> None:
    text = body("Invoke-CleanStep")
    assert text.index("Restore-ExchangeAside -Context $Context -Store $Store -Failed $remaining") < text.index("Remove-Leftover")
    guard = text.index("$b = Get-AsideName -Context $Context -Name $name")
    assert guard < text.index("Remove-Leftover") and "$remaining.Add($name)" in text[guard : guard + 250]
    assert "restored = Limit-List -List $restored" in text
    restore = body("Restore-ExchangeAside")
    assert (
        "if ($null -ne (Get-ItemInfo -Path $target)) { continue }" in restore and "$script:Native::Move($item.FullName, $target" in restore
    )


# --- finding 6: a step that did nothing says so ---


@pytest.mark.parametrize("function", ["Invoke-RenameStep", "Invoke-ExchangeStep", "Invoke-RetireStep", "Invoke-QuarantineStep"])
def test_the_first_rename_of_a_step_reports_in_use(function: str) -> None:
    text = body(function)
    moves = re.findall(r"Move-First -Context \$Context|\$script:Native::Move\(", text)
    assert moves and moves[0].startswith("Move-First"), f"{function}: the first rename is not Move-First"
    first = body("Move-First")
    assert "if ($code -eq 5 -or $code -eq 32 -or $code -eq 33) {" in first and "-Result 'in_use' -Code 'SET_IN_USE'" in first


def test_exchange_checks_both_folders_before_it_moves() -> None:
    text = body("Invoke-ExchangeStep")
    assert text.index("Assert-Folder -Path $a") < text.index("Move-First") and text.index("Assert-Folder -Path $b") < text.index(
        "Move-First"
    )
    assert "-Result 'conflict'" in body("Assert-Folder")


@pytest.mark.parametrize(
    ("function", "guard"), [("Invoke-RenameStep", "-Result 'conflict'"), ("Invoke-QuarantineStep", "-Result 'conflict'")]
)
def test_missing_names_are_a_conflict(function: str, guard: str) -> None:
    text = body(function)
    assert guard in text[: text.index("Move-First")]


# --- findings 3 and 9: the service ---


def test_the_end_of_the_request_starts_what_it_stopped() -> None:
    text = body("Invoke-Apply")
    end = finally_of(text)
    assert "foreach ($name in @($context.stopped.Keys)) {" in end
    assert "Start-ServiceAgain -Context $context -Name $name -Dependents @($record.dependents) -Timeout $record.timeout" in end
    assert end.index("$context.stopped.Keys") < end.index("$context.locks.Keys"), "the service is started before the locks go"
    assert "stopped = New-Object" in text


def test_stop_records_the_service_before_it_stops_anything() -> None:
    text = body("Invoke-ServiceStep")
    record = text.index("$Context.stopped[$name] = @{ dependents = $dependents.ToArray(); timeout = $timeout }")
    assert record < text.index("$other.Stop()") and record < text.index("$service.Stop()")
    assert "foreach ($dependent in $service.DependentServices) {" in text[:record]


def test_start_honours_only_if_stopped_here() -> None:
    text = body("Invoke-ServiceStep")
    assert "$onlyIfStoppedHere = [bool](Get-Field -Map $Arguments -Name 'only_if_stopped_here' -Default $false)" in text
    guard = text.index("elseif ($onlyIfStoppedHere) {")
    assert "started = $false" in text[guard : guard + 200] and guard < text.index("Start-ServiceAgain")
    start = body("Start-ServiceAgain")
    assert "foreach ($dependent in $Dependents) {" in start


# --- finding 13: quarantine by copy ---


def test_quarantine_by_copy_refuses_truncated_listings_and_links_and_compares_before_it_deletes() -> None:
    copy = body("Copy-TreeVerified")
    assert "if ($listing.truncated) {" in copy
    assert "if (Test-ReparsePoint -Item $file.item) {\n            throw" in copy and "continue" not in copy
    text = body("Invoke-QuarantineStep")
    compare = text.index("Compare-TreeCopy -Context $Context -Folder $folder -Copied $copied")
    assert "foreach ($folder in @($from, $to)) {" in text and compare < text.index("Move-First -Context $Context -From $from -To $trash")
    assert "$digest.Stamp.Size -ne $want.size -or $digest.Sha256 -ne $want.sha256" in body("Compare-TreeCopy")


# --- groups (docs/changes.md): a failed step blocks only the rest of its group ---


def groups_reset_at_lock(text: str) -> bool:
    loop = text[text.find("foreach ($step in @($Request.steps)) {") :]
    reset = loop.find("if ([string]$step.op -eq 'lock') {")
    skip = loop.find("if ($null -ne $halted -and -not [bool]$step.always) {")
    return (
        0 <= reset < skip
        and "if ($haltedInGroup) { $halted = $null }" in loop[reset:skip]
        and "$haltedInGroup = $opened" in loop[skip:]
        and "message = $script:Text::Head(('skipped: ' + $halted), $context.max_message)" in loop
        and "$halted = 'the required step {0} ({1} in {2}) ended {3}' -f $index, [string]$step.op, [string]$step.store, $reply.result"
        in loop
    )


GROUPS_BEFORE = """Function Invoke-Apply {
    $halted = $false
    foreach ($step in @($Request.steps)) {
        if ($halted -and -not [bool]$step.always) {
            $steps.Add(@{ op = [string]$step.op; result = 'skipped'; message = 'a required step before it did not succeed' })
            continue
        }
        $reply = Invoke-Step -Context $context -Step $step
        if ([bool]$step.required -and $reply.result -ne 'done') { $halted = $true }
    }
}
"""


def test_a_failed_step_blocks_only_its_group() -> None:
    assert groups_reset_at_lock(body("Invoke-Apply"))
    assert not groups_reset_at_lock(body("Invoke-Apply", GROUPS_BEFORE.encode()))
