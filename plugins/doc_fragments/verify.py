# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """Options of the checks that decide whether a set is good (defs_verify, and every module that relies on it)."""

    DOCUMENTATION = r"""
options:
  required_files:
    description:
      - Files every set must hold (compared without regard to case). C(zdone.dat) is always required.
      - The default fits the 32-bit engine sets SMSMSE uses; set it to what your sets hold.
    type: list
    elements: str
    default: [zdone.dat, virscan1.dat, naveng32.dll, navex32a.dll]
  deep:
    description: Hash every file again, ignoring the agent's cache.
    type: bool
    default: false
  hash_cache_max_age_days:
    description:
      - The oldest a hash in the agent's cache may be before the file is read again, in days. Each file's entry
        expires at a point between half this age and this age, fixed by its path, so re-reads spread across runs.
      - A cached hash is also dropped when the file's size, modification time, change time (POSIX C(ctime), NTFS
        change time) or file ID differ, so restoring a file's modification time after changing it does not fool it.
      - C(0) never uses the cache (as O(deep=true)).
    type: int
    default: 7
  hash_cache_dir:
    description:
      - Folder on the host for the agent's hash cache.
      - Default C(%ProgramData%\mailsec-smsmse\hashes) on Windows, C(~/.cache/mailsec-smsmse/hashes) on POSIX hosts.
    type: str
  catalog:
    description:
      - A signed known-good catalog on the controller, made by M(mailsec.smsmse.defs_catalog).
      - Without it, sets are judged on structure alone (and on consensus, in the role).
    type: path
  trusted_keys:
    description:
      - The public keys (PEM, or 64 hex digits) whose signatures count for the O(catalog).
    type: list
    elements: str
    default: []
  signature_threshold:
    description: How many distinct trusted keys must have signed the O(catalog).
    type: int
    default: 1
  catalog_state:
    description:
      - A file on the controller that keeps the highest catalog sequence number accepted, so that an older
        catalog cannot be replayed. Strongly recommended with O(catalog).
      - Not written in check mode.
    type: path
"""
