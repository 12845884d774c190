#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: defs_agent_win_lab
short_description: Internal agent of the mailsec.smsmse modules on lab hosts served by the Windows agent's engine
version_added: 0.2.0
description:
  - The target half of the C(mailsec.smsmse.defs_*) modules on a lab host (a POSIX connection) whose inventory sets
    C(smsmse_defs_lab_agent=windows). The action plugins call it; do not use it in playbooks.
  - It runs the C# engine of the Windows agent (M(mailsec.smsmse.defs_agent_win)) under Mono, over ordinary folders,
    so that the lab exercises the very code a Windows host runs. Its replies are checked against the same contract
    (the JSON Schemas under C(schemas/agent/)) as every agent's; the probe reply's C(agent) names C(defs_agent_win)
    and the Mono version.
  - The controller sends the engine's C# sources (every C(plugins/module_utils/*.cs) of the collection) with each call.
    They are compiled once per digest of the sources with Mono's C(mcs) (C# 5, warnings as errors) into
    C(~/.cache/mailsec-smsmse/engine/DIGEST/) (or C($XDG_CACHE_HOME/mailsec-smsmse/engine/)), built in a temporary
    folder and renamed into place, so a build is used only when complete. The cache folder is used only when it is
    owned by the agent's user, not writable by group or others, and not a link; otherwise the call fails and says why.
  - C(mcs) and C(mono) are found on C(PATH) (Debian's C(mono-mcs) and C(mono-runtime)).
extends_documentation_fragment:
  - mailsec.smsmse.agent
options:
  deadline_seconds:
    description:
      - The engine's host-side deadline of one call, in seconds. A probe still running then ends failed; a change is
        never cut short part way, it starts no step after the deadline (see M(mailsec.smsmse.defs_agent_win)).
    type: int
    default: 3600
  engine:
    description:
      - The engine's sources, as the controller sends them - C(sources) is the base64 of the zlib-compressed JSON object
        of file name to C# text.
    type: dict
    required: true
requirements:
  - "Python 3.9 or later on the host"
  - "Mono: mcs and mono on PATH"
attributes:
  platform:
    support: full
    platforms: posix
    description: Lab hosts on a POSIX connection only; Windows hosts run M(mailsec.smsmse.defs_agent_win) itself.
  check_mode:
    support: full
    description: C(probe) only reads (the engine is told it runs in check mode); the changing operations refuse to run in check mode.
author:
  - mailsec.smsmse developers (@mailsec)
seealso:
  - module: mailsec.smsmse.defs_agent_win
  - module: mailsec.smsmse.defs_agent_posix
"""

EXAMPLES = r"""
# Internal: the action plugins call this module for a lab host with smsmse_defs_lab_agent=windows. For the facts, use:
- name: Inventory the definition stores
  mailsec.smsmse.defs_facts:
"""

RETURN = r"""
reply:
  description: The operation's reply, as its JSON Schema describes it.
  returned: success
  type: dict
"""

import base64
import binascii
import hashlib
import json
import os
import pwd
import re
import shutil
import tempfile
import zlib
from collections.abc import Callable
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailsec.smsmse.plugins.module_utils import private_files

OPERATIONS = ("probe", "apply", "run_liveupdate")
#: the agent whose engine this is (the probe reply's ``agent.name``)
AGENT_NAME = "defs_agent_win"
EXE = "smsmse-engine.exe"
#: the build, as every C# check of the collection compiles the module utils (CONTRIBUTING.md)
MCS_FLAGS = ("-langversion:5", "-warnaserror", "-nologo", "-r:System.dll", "-r:System.Core.dll", f"-out:{EXE}")
SOURCE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}\.cs$")
#: the most compressed and uncompressed bytes of sources accepted
MAX_PACKED = 4 << 20
MAX_SOURCES = 16 << 20
_TAIL = 4000
#: how long one call may run on the host when the module is not told (deadline_seconds, as the POSIX agent's)
DEFAULT_DEADLINE_SECONDS = 3600


#: AnsibleModule.run_command: (argv, cwd=..., data=..., environ_update=...) -> (exit code, stdout, stderr)
Runner = Callable[..., "tuple[int, str, str]"]


class EngineError(Exception):
    """Why the engine could not run: the module fails with this message."""


def cache_root() -> str:
    home = os.environ.get("HOME") or pwd.getpwuid(os.getuid()).pw_dir
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    return os.path.join(base, "mailsec-smsmse", "engine")


def unpack(engine: dict[str, Any]) -> dict[str, str]:
    """File name -> C# text, from the controller's ``engine`` argument; names are plain ``*.cs`` names."""
    packed = engine.get("sources")
    if not isinstance(packed, str) or len(packed) > MAX_PACKED:
        raise EngineError("the engine argument carries no sources (or more than 4 MiB of them)")
    try:
        raw = zlib.decompressobj().decompress(base64.b64decode(packed, validate=True), MAX_SOURCES)
        found = json.loads(raw.decode("utf-8"))
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise EngineError(f"the engine's sources cannot be read: {exc}") from exc
    if not isinstance(found, dict) or not found:
        raise EngineError("the engine's sources are not a non-empty object of file name to text")
    bad = sorted(repr(name) for name, text in found.items() if not SOURCE_NAME.match(name) or not isinstance(text, str))
    if bad:
        raise EngineError(f"the engine's sources hold names that are no plain C# file name: {', '.join(bad[:5])}")
    return found


def digest(sources: dict[str, str]) -> str:
    """The cache key: the build flags and every file's name and text."""
    h = hashlib.sha256(json.dumps([MCS_FLAGS, sorted(sources.items())]).encode("utf-8"))
    return h.hexdigest()


def tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise EngineError(
            f"{name} is not on PATH on this lab host: install Mono (Debian: apt-get install mono-mcs mono-runtime, "
            "or scripts/ensure_mcs.sh as root), or set smsmse_defs_lab_agent to posix"
        )
    return found


def built(sources: dict[str, str], run_command: Runner) -> str:
    """The path of the engine compiled from ``sources``, compiling it into the cache when it is not there yet."""
    root = cache_root()
    fd, why = private_files.open_folder(root, create=True)
    if fd is None:
        raise EngineError(f"the engine cache cannot be used: {why}")
    os.close(fd)
    final = os.path.join(root, digest(sources))
    exe = os.path.join(final, EXE)
    if os.path.isfile(exe):
        return exe
    work = tempfile.mkdtemp(prefix=".build-", dir=root)
    try:
        for name, text in sources.items():
            with open(os.path.join(work, name), "w", encoding="utf-8") as handle:
                handle.write(text)
        code, out, err = run_command([tool("mcs"), *MCS_FLAGS, *sorted(sources)], cwd=work)
        if code != 0 or not os.path.isfile(os.path.join(work, EXE)):
            raise EngineError(f"mcs could not compile the engine (exit {code}): {(out + err)[-_TAIL:]}")
        try:
            os.rename(work, final)  # atomic: a build is seen whole or not at all
        except OSError:
            if not os.path.isfile(exe):  # not another run that finished first
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return exe


def run(
    op: str,
    request: dict[str, Any],
    check_mode: bool,
    engine: dict[str, Any],
    run_command: Runner,
    *,
    deadline_seconds: int = DEFAULT_DEADLINE_SECONDS,
) -> dict[str, Any]:
    """The engine's reply to ``op``: one JSON object in on stdin, one out on stdout; the engine keeps the deadline."""
    exe = built(unpack(engine), run_command)
    message = json.dumps({"op": op, "check_mode": check_mode, "request": request, "deadline_seconds": deadline_seconds})
    code, out, err = run_command([tool("mono"), exe], data=message, environ_update={"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"})
    if code != 0:
        raise EngineError(f"the engine crashed (exit {code}): {(err or out)[-_TAIL:]}")
    try:
        answer = json.loads(out)
    except ValueError as exc:
        raise EngineError(f"the engine's output is not one JSON object ({exc}): {out[-_TAIL:]!r} {err[-_TAIL:]}") from exc
    if not isinstance(answer, dict):
        raise EngineError(f"the engine's output is not a JSON object: {out[-_TAIL:]!r}")
    if answer.get("failed"):
        raise EngineError(f"the {op} operation failed: {answer.get('msg') or 'no message'}")
    reply = answer.get("reply")
    runtime = answer.get("runtime")
    if op == "probe" and isinstance(reply, dict) and isinstance(runtime, str):
        # the console host names what runs the engine; the engine may leave the runtime (or the record) to it
        agent = reply.setdefault("agent", {"name": AGENT_NAME})
        if isinstance(agent, dict) and not agent.get("runtime"):
            agent["runtime"] = runtime
    return {"reply": reply}


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            op=dict(type="str", required=True, choices=list(OPERATIONS)),
            request=dict(type="dict", required=True),
            engine=dict(type="dict", required=True),
            deadline_seconds=dict(type="int", default=DEFAULT_DEADLINE_SECONDS),
        ),
        supports_check_mode=True,
    )
    op = module.params["op"]
    if module.check_mode and op != "probe":
        module.fail_json(msg=f"{op} changes the host and does not run in check mode; the controller plans it instead")
    try:
        params = module.params
        deadline = params["deadline_seconds"]
        result = run(op, params["request"], module.check_mode, params["engine"], module.run_command, deadline_seconds=deadline)
    except EngineError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
