# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """Options every module that reads a host's stores takes."""

    DOCUMENTATION = r"""
options:
  stores:
    description:
      - Paths of the stores, overriding detection for the stores given. A path may use C(%VAR%),
        expanded on the host.
      - Required on hosts that are not Windows.
      - When the task (or C(module_defaults)) does not give it, the host variable C(smsmse_defs_stores) is used.
      - Each store must be a folder of its own. Two stores that are the same folder, or one inside the other (after
        C(.) and C(..) are resolved, in any case on Windows, and through links on POSIX hosts), are refused with
        C(OPTION_INVALID) naming both, before anything is read or changed.
    type: dict
    suboptions:
      hawking:
        description: The Hawking structure, updated by LiveUpdate (exists only with SAV/SEP installed).
        type: str
      smsmse_hawking:
        description: The SMSMSE Hawking structure of 64-bit systems.
        type: str
      csapi:
        description: The CSAPI store, the definitions the scanner uses.
        type: str
  store_privacy:
    description:
      - Windows only - who may change and own a store (and each folder above it) before the agent trusts or changes
        it; the collection's C(docs/windows.md) says what it checks. The controller sends this rule with every request.
      - The base is the installer's rule - SYSTEM (C(S-1-5-18)), Administrators (C(S-1-5-32-544)) and TrustedInstaller
        (C(S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464)) may change and own a store, no other
        account may create anything in it, and any member of the local Administrators group may own it.
      - The accounts given are added to that base, for example a service account that writes the stores. Each is a
        SID (names differ by language, SIDs do not) - C(whoami /user), C(sc showsid <service>) or
        C(Get-ADServiceAccount <name>) prints it.
      - Accounts that stand for everyone or for ordinary users (Everyone, Authenticated Users, Users, Guests, Domain
        Users, ...) are refused - they could add a definition set the scanner loads.
      - When the task (or C(module_defaults)) does not give it, the host variable C(smsmse_defs_store_privacy) is used.
      - Ignored on hosts that are not Windows. A bad value fails the task with C(OPTION_INVALID) before the host is
        contacted.
    type: dict
    suboptions:
      writers:
        description: Accounts that may also change a store and every folder above it; they are accepted as owners too.
        type: list
        elements: str
      owners:
        description: Accounts also accepted as the owner of a store and of each folder above it.
        type: list
        elements: str
      creators:
        description:
          - Accounts that may create files and folders in the store itself (none by default).
          - Trust them as writers - an account that can create a folder in a store can add a newer set that the
            structure check accepts.
        type: list
        elements: str
      owner_admins:
        description: Accept any member of the local Administrators group as an owner (the admin who installed).
        type: bool
        default: true
      replace_defaults:
        description:
          - Use O(store_privacy.writers) and O(store_privacy.owners) instead of the installer's accounts, not added to
            them.
          - Windows' own folders above a store (C(C:\), C(Program Files)) are owned by TrustedInstaller, so leaving it
            out refuses every store under them.
        type: bool
        default: false
  product:
    description:
      - The product as installed, on hosts that are not Windows (Windows hosts read it from the registry).
      - When the task (or C(module_defaults)) does not give it, the host variable C(smsmse_defs_product) is used.
    type: dict
    suboptions:
      name:
        description: The product name.
        type: str
      version:
        description: The product version, for example C(6.5.8).
        type: str
      lines:
        description:
          - What a product version does, where the vendor article does not say or your servers differ, on every
            platform (Windows hosts too). Keys are version prefixes (C(8), C(8.0) or C(7.5.2)); the most specific
            prefix the installed version starts with wins, per value.
          - Each value is a mapping with C(event_ids) (all three of C(rollback), C(no_valid) and C(init_failed),
            each from 1 to 65535) and/or C(self_verifies) (true or false).
          - Without it, 6.5.1 and higher (7.x and 8.x included) verify with the 6.5.x IDs 399/400/401 (inferred for
            7.x and later), 6.0.12 and higher on 6.0 with 393/394/395, and earlier versions do not verify; the
            facts' C(product.basis) says C(vendor), C(inferred) or C(inventory) for each value.
          - A bad entry fails the task with C(OPTION_INVALID) before the host is touched.
        type: dict
  events_file:
    description:
      - On hosts that are not Windows, a file of the product's events, one JSON object per line with
        C(id), C(time) (UTC, C(YYYY-MM-DDTHH:MM:SSZ)) and C(message). Windows hosts read the Application log.
      - The changing modules also record their own events there.
      - When the task (or C(module_defaults)) does not give it, the host variable C(smsmse_defs_events_file) is used.
    type: path
  event_hours:
    description: How far back to read the product's events, in hours. From 0 to 87600.
    type: int
    default: 72
"""
