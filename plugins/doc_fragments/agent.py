# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """The options of both agents: one operation of the contract per call."""

    DOCUMENTATION = r"""
options:
  op:
    description: The operation to carry out.
    type: str
    required: true
    choices: [probe, apply, run_liveupdate]
  request:
    description: The operation's request, as its JSON Schema (C(schemas/agent/)) describes it.
    type: dict
    required: true
"""
