"""The registry of stable error codes, as data: what each means and what to do about it.

Codes never change meaning once released; new ones are added at the end.
``docs/errors.md`` carries the same table, and a test keeps the two equal. The exceptions that carry a code are
in :mod:`errors`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    code: str
    meaning: str
    remediation: str


REGISTRY: tuple[ErrorCode, ...] = (
    ErrorCode(
        "OPTION_INVALID",
        "A module option has a value the module cannot use.",
        "Correct the option named in the message; `ansible-doc mailsec.smsmse.<module>` lists the accepted values.",
    ),
    ErrorCode(
        "STORES_REQUIRED",
        "The host is not Windows, so there is no standard SMSMSE layout to detect.",
        "Set the `stores` option (or the `smsmse_defs_stores` host variable) to the paths of the stores.",
    ),
    ErrorCode(
        "STORE_NOT_FOUND",
        "A store path given in `stores` does not exist on the host.",
        "Check the path and the host; remove the entry from `stores` to use detection instead.",
    ),
    ErrorCode(
        "STORE_UNREADABLE",
        "The agent could not list a store (permissions or an I/O error).",
        "Give the connecting account read access to the store (and search access to the folders above it), or repair the disk.",
    ),
    ErrorCode(
        "DEFINFO_MALFORMED",
        "A store's definfo.dat cannot be parsed.",
        "Restore definfo.dat from a good store, or rewrite it with `[DefDates]` and `CurDefs=YYYYMMDD.RRR`.",
    ),
    ErrorCode(
        "DEFINFO_TOO_LARGE",
        "A store's definfo.dat is larger than any real one; it is not read.",
        "Inspect the file: it is damaged or not a definfo.dat. Restore it from a good store.",
    ),
    ErrorCode(
        "AGENT_FAILED",
        "The agent on the host reported a failure.",
        "Read the agent's message; run the task with -vvv for the agent's traceback.",
    ),
    ErrorCode(
        "AGENT_REPLY_INVALID",
        "The agent's reply does not match the contract (schemas/), so none of it is trusted.",
        "Make sure the collection on the controller is the one that shipped the agent; report a bug if it persists.",
    ),
    ErrorCode(
        "SET_NAME_INVALID",
        "A set folder is named like a version but is not one (no calendar date, or dated in the future).",
        "Remove the folder; when the date is in the future, check the host's clock and where the set came from.",
    ),
    ErrorCode(
        "SET_MARKER_MISSING",
        "A set has no zdone.dat: its extraction never finished.",
        "Run LiveUpdate again, or let defs_promote install a complete set.",
    ),
    ErrorCode(
        "SET_REQUIRED_FILE_MISSING",
        "A file every set must hold is missing.",
        "Replace the set; if your sets legitimately lack the file, set `required_files` to what they hold.",
    ),
    ErrorCode(
        "SET_FILE_EMPTY",
        "A file of a set is empty.",
        "Replace the set from a good source (LiveUpdate, or a good set in another store).",
    ),
    ErrorCode(
        "SET_TEMPORARY_FILE",
        "A set holds a temporary or partial file: it was not written completely.",
        "Replace the set; remove the leftover once nothing is writing to it.",
    ),
    ErrorCode(
        "SET_LINK",
        "A set, or a file in it, is a link or junction that may lead out of the store.",
        "Replace the link with real files, or remove the set.",
    ),
    ErrorCode(
        "SET_PATH_UNSAFE",
        "A file in a set has a name that could lead out of the set or that Windows would change.",
        "Remove the file and replace the set from a good source.",
    ),
    ErrorCode(
        "SET_TOO_MANY_FILES",
        "A set holds more files than the agent lists, so it cannot be verified.",
        "Inspect the set: real sets hold far fewer files. Replace it from a good source.",
    ),
    ErrorCode(
        "SET_FILE_UNREADABLE",
        "A file of a set could not be read to hash it (locked, or no permission), or it changed while it was read.",
        "Give the connecting account read access; if another process holds the file open or is writing it, run again later.",
    ),
    ErrorCode(
        "POINTER_MISSING_SET",
        "definfo.dat names a set that is not in the store.",
        "Point the store at a good set with defs_rollback or defs_promote.",
    ),
    ErrorCode(
        "CATALOG_INVALID",
        "The catalog is not a valid catalog document.",
        "Rebuild it with mailsec.smsmse.defs_catalog, and check what delivered it.",
    ),
    ErrorCode(
        "CATALOG_TOO_LARGE",
        "The catalog is larger than the limits (bytes, sets or files per set).",
        "Build catalogs of the versions you need only; an oversized catalog is refused as a denial-of-service guard.",
    ),
    ErrorCode(
        "CATALOG_SIGNATURE",
        "The catalog lacks the required number of valid signatures from trusted keys.",
        "Sign it with enough of the keys in `trusted_keys`, or check that `trusted_keys` holds the right public keys.",
    ),
    ErrorCode(
        "CATALOG_EXPIRED",
        "The catalog's expiry date has passed.",
        "Build and sign a fresh catalog; an expired one may describe sets that are no longer trusted.",
    ),
    ErrorCode(
        "CATALOG_ROLLBACK",
        "The catalog's sequence number is lower than one accepted before: an old catalog is being replayed.",
        "Use the newest catalog; if the sequence really must go down, remove the state file (`catalog_state`) knowingly.",
    ),
    ErrorCode(
        "CATALOG_PATH_UNSAFE",
        "The catalog lists a path that could lead out of a set (.., absolute, drive letter, UNC or backslash).",
        "Do not use this catalog; rebuild it from a trusted reference set.",
    ),
    ErrorCode(
        "CATALOG_FILE_UNLISTED",
        "A set holds a file the catalog does not list for its version.",
        "Replace the set from a good source, or rebuild the catalog if the reference set was incomplete.",
    ),
    ErrorCode(
        "CATALOG_FILE_MISSING",
        "A file the catalog lists for the version is missing from the set.",
        "Replace the set from a good source.",
    ),
    ErrorCode(
        "CATALOG_SIZE_MISMATCH",
        "A file's size differs from the catalog's.",
        "Replace the set from a good source: the file is truncated or altered.",
    ),
    ErrorCode(
        "CATALOG_HASH_MISMATCH",
        "A file's SHA-256 differs from the catalog's.",
        "Replace the set from a good source: the file is corrupt or altered.",
    ),
    ErrorCode(
        "CONSENSUS_MINORITY",
        "This host's copy of a version differs from the copy a clear majority of the fleet holds.",
        "Replace the set from a good source; compare with a host of the majority.",
    ),
    ErrorCode(
        "KEY_INVALID",
        "A key given to the collection is not a usable Ed25519 key.",
        "Use keys made by mailsec.smsmse.defs_catalog_key (PEM), or 64 hex digits for a raw public key.",
    ),
    ErrorCode(
        "STATE_UNWRITABLE",
        "The catalog state file (the last accepted sequence number) cannot be read or written.",
        "Give the controller user read and write access to `catalog_state` and its folder.",
    ),
    ErrorCode(
        "DEPENDENCY_MISSING",
        "A Python package the collection needs on the controller is not installed.",
        "Install the collection's requirements on the controller: pip install -r requirements.txt.",
    ),
    ErrorCode(
        "VERSION_NOT_FOUND",
        "The version asked for is not in the store.",
        "Pick a version the store holds (`defs_facts` lists them), or leave the option at its default: "
        "`version: newest_good` for defs_promote, `to: previous_good` for defs_rollback. To go down to a version only a "
        "source store holds, use defs_promote with `version: VERSION` and `allow_downgrade: true`.",
    ),
    ErrorCode(
        "SET_NOT_GOOD",
        "The set asked for did not verify as good, so it is not installed or pointed to.",
        "Read the set's errors from `defs_verify`; pick a good set, or replace this one from a good source.",
    ),
    ErrorCode(
        "NO_GOOD_SET",
        "There is no good set to use.",
        "Run LiveUpdate (the `defs_health` role does), then verify again; see the runbook in the role's README.",
    ),
    ErrorCode(
        "DOWNGRADE_REFUSED",
        "The change would take the store below its newest good version without being asked to.",
        "Use mailsec.smsmse.defs_rollback with `to: VERSION` for a version the store holds, or mailsec.smsmse.defs_promote "
        "with `version: VERSION` and `allow_downgrade: true` for one only a source store holds; the downgrade is then recorded.",
    ),
    ErrorCode(
        "CHANGE_CONFLICT",
        "The store changed since it was read (another run, or the product's own copy job), so nothing was changed.",
        "Run the task again: it reads the store afresh. SMSMSE copies Hawking into CSAPI every 10 minutes.",
    ),
    ErrorCode(
        "STORE_LOCKED",
        "Another run holds the store's lock, so nothing was changed.",
        "Run the task again when the other run is over; a lock whose process is gone, or that is stale, is broken automatically.",
    ),
    ErrorCode(
        "SOURCE_CHANGED",
        "The source set changed while it was copied, so nothing was changed.",
        "Run the task again once LiveUpdate has finished writing the source set.",
    ),
    ErrorCode(
        "CHANGE_FAILED",
        "The host could not complete the change (disk full, read-only or permissions); the store was left as it was.",
        "Fix the cause the message names (free space, write access for the connecting account) and run again.",
    ),
    ErrorCode(
        "LIVEUPDATE_FAILED",
        "LiveUpdate did not finish successfully (not found, failed, or stopped at the timeout).",
        "Run LuALL.exe by hand on the server and read its log; check the content license and the LiveUpdate server.",
    ),
    ErrorCode(
        "PRECONDITION_FAILED",
        "A check made before anything moved found that the change could not complete "
        "(definfo.dat cannot be replaced, a folder is on another volume, or too little free space), so nothing was changed.",
        "Fix what the message names: remove the immutable or read-only flag (chattr -i, attrib -r), give the connecting account "
        "write access, put `quarantine_dir` on the store's volume, or free space; then run again.",
    ),
    ErrorCode(
        "STORE_NOT_PRIVATE",
        "A Windows store (or a folder above it, or the quarantine folder) can be changed by an account other than SYSTEM, "
        "the Administrators and TrustedInstaller: it is a junction or link, another account owns it, or an allow entry lets "
        "another account write, create or delete there. Privileged file operations there could be redirected, so nothing moved.",
        "Fix what the message names: make the folder a real folder owned by SYSTEM or the Administrators and remove the named "
        "account's write permission (icacls <folder> /inheritance:d, then /remove:g <account>); the probe's `privacy` "
        "record lists every level. Then run again.",
    ),
    ErrorCode(
        "ACTIVE_SET_IN_USE",
        "A file of a set the change must move or replace is held open (the scanner has it loaded), so it was not moved.",
        "Allow a restart (`restart_service: true`) so the service is stopped around the swap, or run again in a maintenance window.",
    ),
    ErrorCode(
        "CHANGE_PARTIAL",
        "The change was made (the store points at the new set), but a later required step did not complete; the message says what is left.",
        "Fix the cause the message names and run the task again: it reads the host afresh and finishes what is left.",
    ),
    ErrorCode(
        "CHANGE_UNKNOWN",
        "The commit step started but did not report success (it failed midway, or the agent stopped): "
        "the change may or may not have been made.",
        "Run the task again: it reads the host afresh, and the store always names a complete set. Check the host if it persists.",
    ),
    ErrorCode(
        "SET_NAME_COLLISION",
        "Two files of a set are one file to Windows: their names differ only in case, or in trailing dots and spaces.",
        "Replace the set from a good source; a copy to Windows would keep one of the two files by chance.",
    ),
    ErrorCode(
        "SET_COPY_DIFFERS",
        "Two stores of one host hold the same version with different bytes, and nothing else decided which is right: "
        "the copy in the store the product copies from (SMSMSE Hawking, else Hawking) wins, the other is bad.",
        "Let enforce replace the bad copy, or install the set again from the source store; "
        "a signed catalog or fleet consensus decides instead when configured.",
    ),
    ErrorCode(
        "KEY_PERMISSIONS",
        "An existing private signing key can be read by others than its owner.",
        "Run `chmod 600` on the key and treat it as exposed: make a new key and sign again. "
        "`allow_readable_key: true` goes on with a warning.",
    ),
    ErrorCode(
        "NAME_UNDECODABLE",
        "A file or folder name in a store is not text on the host (not UTF-8 on POSIX, an unpaired surrogate on Windows) "
        "or is too long to report; it is shown with its bytes escaped, and the set holding it is bad.",
        "Remove or rename the entry the message shows (`ls -b` shows the same escapes), then replace the set from a good source.",
    ),
    ErrorCode(
        "SET_UNREADABLE",
        "The agent could not list a set folder (or a folder in it), so the set cannot be verified; the other sets are judged.",
        "Give the connecting account read access to the folder, or remove the set.",
    ),
    ErrorCode(
        "STORE_TOO_MANY_ENTRIES",
        "A store holds more folders or files than one reply carries (4096 of each); sets are listed first, newest first, "
        "and the entries left out are not judged.",
        "Remove what does not belong in the store (leftover folders, logs); real stores hold a few sets.",
    ),
    ErrorCode(
        "DEFINFO_LINK",
        "A store's definfo.dat is a link (symlink, junction or other reparse point); it is never followed, so the store has no active set.",
        "Remove the link (not its target) or replace it with a regular file naming a good set; then run defs_promote.",
    ),
    ErrorCode(
        "DEFINFO_NOT_A_FILE",
        "A store's definfo.dat is a folder or a special file (FIFO, device, socket), so the store has no active set.",
        "Move it out of the store, then run defs_promote: it writes a new definfo.dat naming the newest good set.",
    ),
    ErrorCode(
        "SET_NAME_RESERVED",
        "A file or folder in a set has a name Windows opens as a device, not a file: CON, PRN, AUX, NUL, COM0 to COM9, "
        "LPT0 to LPT9 (also with a superscript digit, COM\u00b9), CONIN$ or CONOUT$, "
        "with any extension, case, or trailing dots and spaces.",
        "Remove the file (on Windows through a `\\\\?\\` path) and replace the set from a good source; no real set holds such a name.",
    ),
    ErrorCode(
        "CATALOG_PATH_RESERVED",
        "The catalog lists a file whose name Windows opens as a device, not a file (NUL, con.dat, COM1, LPT\u00b9 ...).",
        "Do not use this catalog; rebuild it with mailsec.smsmse.defs_catalog from a trusted reference set.",
    ),
    ErrorCode(
        "STORE_NOT_A_FOLDER",
        "A store path the options give (`stores`, `source_path`) exists but is not a folder: a file, a link to one, or a special file.",
        "Set the option to the folder that holds definfo.dat and the version folders (for a path ending in definfo.dat, "
        "its folder); remove the entry from `stores` to use detection instead.",
    ),
    ErrorCode(
        "CHANGE_TOO_LARGE",
        "The change needs more steps than one apply request carries (200), usually because a store holds hundreds of old "
        "sets to retire at once; nothing was sent to the host and nothing was changed.",
        "Remove old version folders from the store the message names by hand (keep the active set and the newest good ones), "
        "or raise `keep` (defs_health_keep) so that fewer sets are retired in one run; then run again.",
    ),
    ErrorCode(
        "SERVICE_NOT_RESTARTED",
        "The SMSMSE service (Windows) or the restart command (POSIX) did not start the scanner again after the change; "
        "the message says whether the change itself was made. The scanner may not be running.",
        "Start the service by hand (`Start-Service SMSMSE`, or the restart command) and read why it failed in the "
        "Application and System event logs (or the command's output in the message); then run again to verify the host.",
    ),
    ErrorCode(
        "NOT_ATTEMPTED",
        "The change was not attempted because an earlier required step of its group failed (the message names it); nothing was changed.",
        "Fix what the earlier step's message names (often a CHANGE_CONFLICT: the product touched the store) and run again.",
    ),
    ErrorCode(
        "CATALOG_REQUIRED",
        "A distribution point (a URL, UNC path or folder) was given without a trusted catalog: a set from outside the "
        "host is installed only when a signed catalog proves every file of it. Nothing was touched.",
        "Set `catalog` and `trusted_keys` (in the role, `defs_health_catalog` and `defs_health_trusted_keys`), or use "
        "`liveupdate` alone as the source.",
    ),
    ErrorCode(
        "SOURCE_NOT_FOUND",
        "The distribution point does not hold a file of the set (HTTP 404 or 410, or no such file or folder); nothing was kept.",
        "Publish the catalog's sets to the distribution point (the README's publishing play), check the URL or folder "
        "(it holds folders named by version), and that a folder source is mounted on the host.",
    ),
    ErrorCode(
        "SOURCE_MISMATCH",
        "A file from the distribution point is not what the trusted catalog lists (truncated, larger, or other bytes): "
        "the set was refused at that file and nothing of it was kept.",
        "Publish the set again from the trusted reference sets (the README's publishing play) and check what changed "
        "the files on the distribution point; a proxy that rewrites files must be bypassed.",
    ),
    ErrorCode(
        "SOURCE_TIMEOUT",
        "The distribution point stopped sending (nothing for `timeout` seconds) or the set took longer than allowed; "
        "nothing of the set was kept.",
        "Check the server and the network path to it; raise `timeout` (defs_health_source_timeout) for a slow link.",
    ),
    ErrorCode(
        "SOURCE_REDIRECT",
        "The distribution point redirected to another scheme, host or port, which is never followed; nothing was kept.",
        "Give the URL the sets are served from (the redirect's target, if you trust it) as the source.",
    ),
    ErrorCode(
        "SOURCE_TLS",
        "The HTTPS distribution point's certificate was not accepted, or the TLS handshake failed (TLS 1.2 or later is "
        "required); nothing was kept.",
        "Give the CA that signed the server's certificate in `ca_path` (a PEM file on the host), or install it in the "
        "host's trust store; use a host name the certificate names.",
    ),
    ErrorCode(
        "SOURCE_UNREACHABLE",
        "The distribution point cannot be reached: the connection was refused or has no route, the folder cannot be "
        "read, or the server answered an error; nothing was kept.",
        "Check that the server runs and the host may reach it (firewall, DNS), or that the folder is mounted and "
        "readable by the connecting account.",
    ),
    ErrorCode(
        "SOURCE_NOT_SUPPORTED",
        "The source kind does not fit the platform: a UNC path for a POSIX host, a POSIX folder path for a Windows host.",
        "Give Windows hosts a URL or a UNC path, POSIX hosts a URL or a folder (a mounted share); see docs/windows.md.",
    ),
    ErrorCode(
        "LAB_AGENT_INVALID",
        "The inventory variable `smsmse_defs_lab_agent` is neither `posix` nor `windows`, or is set for a host reached over a "
        "Windows connection (a Windows host always runs the Windows agent); nothing was run on the host.",
        "Set `smsmse_defs_lab_agent` to `posix` or `windows`, and only for lab hosts on a POSIX connection (local, or ssh to "
        "Linux); remove it from Windows hosts.",
    ),
)

BY_CODE: dict[str, ErrorCode] = {entry.code: entry for entry in REGISTRY}
