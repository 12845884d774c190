// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The Windows agent's rules that need no Windows: error mapping by Win32 code and HResult,
// the retry policy around renames and deletes, command-line quoting, bounded text, names as a
// reply carries them, the folders a crowded store's listing keeps, what an entry is by its
// attributes, the hash cache's expiry, version and store folder names, and a tree removal
// that never follows a reparse point. They compile at C# 5 (Windows PowerShell 5.1's
// Add-Type) and run under mono in the project's tests (tests/unit/csharp/PolicyTests.cs).

using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.IO;
using System.Security.Cryptography;
using System.Text;

namespace ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy
{
    // A failed system call as a step reports it: result, code (the error's name) and message.
    public sealed class StepError
    {
        public string Result;
        public string Code;
        public int Win32;
        public string Message;
    }

    public static class Win32Error
    {
        public const int FileNotFound = 2;
        public const int PathNotFound = 3;
        public const int AccessDenied = 5;
        public const int NotSameDevice = 17;
        public const int SharingViolation = 32;
        public const int LockViolation = 33;
        public const int HandleDiskFull = 39;
        public const int FileExists = 80;
        public const int DiskFull = 112;
        public const int InvalidName = 123;
        public const int DirNotEmpty = 145;
        public const int AlreadyExists = 183;
        public const int FilenameExcedRange = 206;
        public const int DeletePending = 303;
        public const int UnableToRemoveReplaced = 1175;
        public const int UnableToMoveReplacement = 1176;
        public const int UnableToMoveReplacement2 = 1177;

        private static readonly Dictionary<int, string> Names = new Dictionary<int, string>
        {
            { FileNotFound, "ERROR_FILE_NOT_FOUND" },
            { PathNotFound, "ERROR_PATH_NOT_FOUND" },
            { AccessDenied, "ERROR_ACCESS_DENIED" },
            { NotSameDevice, "ERROR_NOT_SAME_DEVICE" },
            { SharingViolation, "ERROR_SHARING_VIOLATION" },
            { LockViolation, "ERROR_LOCK_VIOLATION" },
            { HandleDiskFull, "ERROR_HANDLE_DISK_FULL" },
            { FileExists, "ERROR_FILE_EXISTS" },
            { DiskFull, "ERROR_DISK_FULL" },
            { InvalidName, "ERROR_INVALID_NAME" },
            { DirNotEmpty, "ERROR_DIR_NOT_EMPTY" },
            { AlreadyExists, "ERROR_ALREADY_EXISTS" },
            { FilenameExcedRange, "ERROR_FILENAME_EXCED_RANGE" },
            { DeletePending, "ERROR_DELETE_PENDING" },
            { UnableToRemoveReplaced, "ERROR_UNABLE_TO_REMOVE_REPLACED" },
            { UnableToMoveReplacement, "ERROR_UNABLE_TO_MOVE_REPLACEMENT" },
            { UnableToMoveReplacement2, "ERROR_UNABLE_TO_MOVE_REPLACEMENT_2" },
        };

        // The error's symbolic name; WIN32_<n> for one the table does not know.
        public static string Name(int code)
        {
            string name;
            if (Names.TryGetValue(code, out name))
            {
                return name;
            }
            return "WIN32_" + code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        // The step result a Win32 error means: another process holds the file (sharing or
        // lock violation) is "in_use"; everything else is "failed" with the error's own code.
        public static string ResultFor(int code)
        {
            if (code == SharingViolation || code == LockViolation)
            {
                return "in_use";
            }
            return "failed";
        }

        // The Win32 error behind an HResult (FACILITY_WIN32), or 0 when it carries none.
        public static int FromHResult(int hresult)
        {
            if ((hresult & unchecked((int)0xFFFF0000)) == unchecked((int)0x80070000))
            {
                return hresult & 0xFFFF;
            }
            return 0;
        }

        // The Win32 error an exception stands for, decided by its HResult, never by its type
        // alone (.NET reports a missing folder, a path too long and a sharing violation all
        // as IOException). 0 when the exception carries no system error.
        public static int FromException(Exception exception)
        {
            for (Exception current = exception; current != null; current = current.InnerException)
            {
                Win32Exception win32 = current as Win32Exception;
                if (win32 != null)
                {
                    return win32.NativeErrorCode;
                }
                int code = FromHResult(current.HResult);
                if (code != 0)
                {
                    return code;
                }
                if (current is UnauthorizedAccessException)
                {
                    return AccessDenied;
                }
                if (current is PathTooLongException)
                {
                    return FilenameExcedRange;
                }
                if (current is DirectoryNotFoundException)
                {
                    return PathNotFound;
                }
                if (current is FileNotFoundException)
                {
                    return FileNotFound;
                }
            }
            return 0;
        }

        // The innermost message: PowerShell wraps .NET exceptions in MethodInvocationException.
        public static string InnerMessage(Exception exception)
        {
            Exception current = exception;
            while (current.InnerException != null)
            {
                current = current.InnerException;
            }
            return current.Message;
        }

        public static StepError Describe(Exception exception, string what, int maxMessage)
        {
            int code = FromException(exception);
            StepError error = new StepError();
            error.Win32 = code;
            if (code == 0)
            {
                error.Result = "failed";
                error.Code = Text.Code(InnermostType(exception));
            }
            else
            {
                error.Result = ResultFor(code);
                error.Code = Name(code);
            }
            error.Message = Text.Head(what + ": " + InnerMessage(exception), maxMessage);
            return error;
        }

        private static string InnermostType(Exception exception)
        {
            Exception current = exception;
            while (current.InnerException != null)
            {
                current = current.InnerException;
            }
            return current.GetType().Name;
        }
    }

    // Antivirus filters (Defender, SEP Auto-Protect) and the search indexer open new files for
    // a moment; a rename or delete in that moment fails with access denied, a sharing violation
    // or "directory not empty". Those are retried for a few seconds, with growing pauses.
    public static class RetryPolicy
    {
        public static bool IsTransient(int code)
        {
            return code == Win32Error.AccessDenied || code == Win32Error.SharingViolation || code == Win32Error.DirNotEmpty;
        }

        // The pause before attempt number `attempt` (1 = the first retry), in milliseconds.
        public static int Delay(int attempt)
        {
            int delay = 50;
            for (int i = 1; i < attempt && delay < 1000; i++)
            {
                delay *= 2;
            }
            return Math.Min(delay, 1000);
        }

        // Run `attempt` (returns 0 or a Win32 error) until it succeeds, fails for good, or
        // `seconds` of pauses are spent. Returns the last error (0: done). `sleep` pauses.
        public static int Run(Func<int> attempt, int seconds, Action<int> sleep)
        {
            return Run(attempt, new RetryBudget(seconds), sleep, IsTransient);
        }

        // The same, the pauses taken from `budget` (shared by every retry of one step, so that a
        // step with many failing entries still ends within its time), retrying while `transient`
        // says the error may pass.
        public static int Run(Func<int> attempt, RetryBudget budget, Action<int> sleep, Func<int, bool> transient)
        {
            int tries = 0;
            while (true)
            {
                int code = attempt();
                if (code == 0 || !transient(code))
                {
                    return code;
                }
                tries++;
                int pause = Delay(tries);
                if (!budget.Take(pause))
                {
                    return code;
                }
                sleep(pause);
            }
        }
    }

    // The time one step may spend pausing between retries, whatever the number of entries it
    // retries: 2,000 files denied by a filter cost one budget, not 2,000.
    public sealed class RetryBudget
    {
        private int left;

        public RetryBudget(int seconds)
        {
            left = Math.Max(0, Math.Min(seconds, 3600)) * 1000;
        }

        public int LeftMilliseconds
        {
            get { return left; }
        }

        // Takes `pause` milliseconds from the budget; false (nothing taken) when they are not left.
        public bool Take(int pause)
        {
            if (pause > left)
            {
                return false;
            }
            left -= pause;
            return true;
        }
    }

    // What replacing definfo.dat needs from a file system (Windows: StoreNative's ReplaceFile and
    // MoveFileEx). Each call returns 0 or the Win32 error.
    public interface IReplaceFs
    {
        bool Exists(string path);
        bool IsReadOnly(string path);
        int SetReadOnly(string path, bool readOnly);
        int ReplaceFile(string target, string replacement);
        int MoveFile(string source, string target);
        void Sleep(int milliseconds);
    }

    public static class PointerReplace
    {
        // Replace `target` by the fully written `replacement` (same folder) with ReplaceFile, which
        // keeps the target's security descriptor, attributes and streams. ReplaceFile can fail
        // after it has removed the target (1176, 1177 or another error): the new file then still
        // sits under its temporary name and the store has no pointer at all. Whatever the error,
        // when the target is gone and the replacement is there the move is finished with its own
        // retries. Errors are retried only while the target is still there. A read-only target
        // stays read-only. Returns 0 or the Win32 error (1175, the target held open without delete
        // sharing, is reported as the sharing violation it is).
        public static int Replace(IReplaceFs fs, string target, string replacement, int retrySeconds)
        {
            if (!fs.Exists(target))
            {
                return Finish(fs, target, replacement, retrySeconds);
            }
            bool readOnly = fs.IsReadOnly(target);
            if (readOnly)
            {
                int cleared = fs.SetReadOnly(target, false);
                if (cleared != 0)
                {
                    return cleared;
                }
            }
            int code = RetryPolicy.Run(
                delegate { return fs.ReplaceFile(target, replacement); },
                new RetryBudget(retrySeconds),
                fs.Sleep,
                delegate(int error) { return IsTransient(error) && fs.Exists(target); });
            if (code != 0 && !fs.Exists(target) && fs.Exists(replacement))
            {
                code = Finish(fs, target, replacement, retrySeconds);
            }
            if (readOnly && fs.Exists(target))
            {
                int restored = fs.SetReadOnly(target, true);
                if (code == 0)
                {
                    code = restored;
                }
            }
            return code == Win32Error.UnableToRemoveReplaced ? Win32Error.SharingViolation : code;
        }

        private static bool IsTransient(int code)
        {
            return RetryPolicy.IsTransient(code) || code == Win32Error.UnableToRemoveReplaced || code == Win32Error.UnableToMoveReplacement;
        }

        private static int Finish(IReplaceFs fs, string target, string replacement, int retrySeconds)
        {
            return RetryPolicy.Run(delegate { return fs.MoveFile(replacement, target); }, new RetryBudget(retrySeconds), fs.Sleep, RetryPolicy.IsTransient);
        }
    }

    // Windows command lines: each argument quoted so that CommandLineToArgvW and the C runtime
    // give the program exactly that argument back.
    public static class CommandLine
    {
        public static string Quote(string argument)
        {
            if (argument == null)
            {
                argument = "";
            }
            if (argument.Length > 0 && argument.IndexOfAny(new char[] { ' ', '\t', '\n', '\v', '"' }) < 0)
            {
                return argument;
            }
            StringBuilder quoted = new StringBuilder("\"");
            int backslashes = 0;
            foreach (char c in argument)
            {
                if (c == '\\')
                {
                    backslashes++;
                    continue;
                }
                if (c == '"')
                {
                    quoted.Append('\\', backslashes * 2 + 1);
                }
                else
                {
                    quoted.Append('\\', backslashes);
                }
                backslashes = 0;
                quoted.Append(c);
            }
            quoted.Append('\\', backslashes * 2);
            quoted.Append('"');
            return quoted.ToString();
        }

        public static string Join(string[] arguments)
        {
            List<string> parts = new List<string>();
            if (arguments != null)
            {
                foreach (string argument in arguments)
                {
                    parts.Add(Quote(argument));
                }
            }
            return string.Join(" ", parts.ToArray());
        }
    }

    public static class Text
    {
        // At most `max` characters, the beginning kept (messages).
        public static string Head(string text, int max)
        {
            if (text == null)
            {
                return "";
            }
            if (text.Length <= max)
            {
                return text;
            }
            if (max < 4)
            {
                return text.Substring(0, Cut(text, Math.Max(0, max)));
            }
            return text.Substring(0, Cut(text, max - 3)) + "...";
        }

        // `at`, or one less when the character before it opens a surrogate pair: a pair is never split.
        private static int Cut(string text, int at)
        {
            return at > 0 && char.IsHighSurrogate(text[at - 1]) ? at - 1 : at;
        }

        // At most `max` characters, the end kept (a program's output).
        public static string Tail(string text, int max)
        {
            if (text == null)
            {
                return "";
            }
            if (text.Length <= max)
            {
                return text;
            }
            int start = text.Length - Math.Max(0, max);
            return text.Substring(start < text.Length && char.IsLowSurrogate(text[start]) ? start + 1 : start);
        }

        // A code as the reply schema accepts it: [A-Za-z0-9_], at most 64 characters.
        public static string Code(string text)
        {
            StringBuilder code = new StringBuilder();
            foreach (char c in text ?? "")
            {
                bool ascii = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                code.Append(ascii ? c : '_');
                if (code.Length == 64)
                {
                    break;
                }
            }
            return code.Length == 0 ? "UNKNOWN" : code.ToString();
        }
    }

    // A name (or any text from the host) as a reply can carry it, and whether it had to be altered.
    public sealed class WireName
    {
        public string Text;
        public bool Escaped;
    }

    // What a probe reply may say of a name, the POSIX agent's way (plugins/module_utils/scan.py,
    // wire_name): a Windows name is UTF-16 and may hold an unpaired surrogate, which is not text,
    // cannot be encoded as UTF-8 and would reach the controller as U+FFFD, a different name. Each
    // unpaired surrogate is sent escaped as Python's backslashreplace writes it ("\ud800"); a
    // name longer than `limit` characters (code points, as the contract counts) is shortened to
    // `limit` with "..." at the end, never between the two halves of a pair. Either way Escaped.
    public static class Wire
    {
        public static WireName Escape(string name, int limit)
        {
            WireName wire = new WireName();
            StringBuilder text = new StringBuilder();
            string source = name ?? "";
            for (int i = 0; i < source.Length; i++)
            {
                char c = source[i];
                if (char.IsHighSurrogate(c) && i + 1 < source.Length && char.IsLowSurrogate(source[i + 1]))
                {
                    text.Append(c).Append(source[i + 1]);
                    i++;
                }
                else if (char.IsSurrogate(c))
                {
                    text.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                    wire.Escaped = true;
                }
                else
                {
                    text.Append(c);
                }
            }
            string escaped = text.ToString();
            if (limit >= 4 && CodePoints(escaped) > limit)
            {
                escaped = escaped.Substring(0, IndexOfCodePoint(escaped, limit - 3)) + "...";
                wire.Escaped = true;
            }
            wire.Text = escaped;
            return wire;
        }

        // A message (which may name a file) as a reply can carry it, at most `limit` characters.
        public static string Message(string text, int limit)
        {
            return Escape(text, limit).Text;
        }

        // Code points of text whose surrogates are all paired.
        private static int CodePoints(string text)
        {
            int count = 0;
            for (int i = 0; i < text.Length; i++)
            {
                if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    i++;
                }
                count++;
            }
            return count;
        }

        // The UTF-16 index where code point number `points` begins.
        private static int IndexOfCodePoint(string text, int points)
        {
            int i = 0;
            for (int seen = 0; seen < points && i < text.Length; seen++)
            {
                i += char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            }
            return i;
        }
    }

    // The folders of a store a probe reply lists, and those it leaves out, the POSIX agent's
    // way (scan.py, _bounded): all of them up to `max`; beyond that version folders first,
    // newest first, then the others in the listing's order. Indexes into `names` (the
    // listing, in ordinal order); Kept stays in the listing's order, Omitted is in rank order.
    public sealed class Bounded
    {
        public int[] Kept;
        public int[] Omitted;
    }

    public static class Listing
    {
        public static Bounded Bound(string[] names, int max)
        {
            Bounded bounded = new Bounded();
            int count = names == null ? 0 : names.Length;
            List<int> sets = new List<int>();
            List<int> others = new List<int>();
            for (int i = 0; i < count; i++)
            {
                (Names.IsVersion(names[i]) ? sets : others).Add(i);
            }
            if (count <= max)
            {
                List<int> all = new List<int>();
                for (int i = 0; i < count; i++)
                {
                    all.Add(i);
                }
                bounded.Kept = all.ToArray();
                bounded.Omitted = new int[0];
                return bounded;
            }
            sets.Sort(delegate(int a, int b) { return string.CompareOrdinal(names[b], names[a]); });
            List<int> ranked = new List<int>(sets);
            ranked.AddRange(others);
            int keep = Math.Max(0, max);
            List<int> kept = ranked.GetRange(0, keep);
            kept.Sort();
            bounded.Kept = kept.ToArray();
            bounded.Omitted = ranked.GetRange(keep, ranked.Count - keep).ToArray();
            return bounded;
        }
    }

    // What a directory entry is, from its own attributes, never its target's: a reparse point
    // (junction, symbolic link or any other) is "link" and is never followed, then "dir", a
    // device "other", and the rest "file" (the probe reply's definfo kind).
    public static class Kinds
    {
        public static string Of(FileAttributes attributes)
        {
            if ((attributes & FileAttributes.ReparsePoint) != 0)
            {
                return "link";
            }
            if ((attributes & FileAttributes.Directory) != 0)
            {
                return "dir";
            }
            if ((attributes & FileAttributes.Device) != 0)
            {
                return "other";
            }
            return "file";
        }
    }

    // The end of a stream of text, at most `max` characters kept; safe to append from the
    // threads that read a process's output.
    public sealed class TailBuffer
    {
        private readonly StringBuilder buffer = new StringBuilder();
        private readonly object gate = new object();
        private readonly int max;

        public TailBuffer(int max)
        {
            this.max = max;
        }

        public void AppendLine(string line)
        {
            if (line == null)
            {
                return;
            }
            lock (gate)
            {
                buffer.Append(line).Append('\n');
                if (buffer.Length > max * 2)
                {
                    buffer.Remove(0, buffer.Length - max);
                }
            }
        }

        public override string ToString()
        {
            lock (gate)
            {
                return Text.Tail(buffer.ToString(), max);
            }
        }
    }

    // The hash cache's expiry (cache format 2): an entry is used only while
    // now - verified_at < max_age * (0.5 + 0.5 * f), f from the path's SHA-256, so re-reads
    // spread across runs rather than all falling due at once.
    public static class CacheExpiry
    {
        public static double Fraction(string path)
        {
            byte[] digest;
            using (SHA256 sha = Hashing.NewSha256())
            {
                digest = sha.ComputeHash(Encoding.UTF8.GetBytes(path));
            }
            uint head = ((uint)digest[0] << 24) | ((uint)digest[1] << 16) | ((uint)digest[2] << 8) | digest[3];
            return head / 4294967296.0;
        }

        public static bool IsFresh(long now, long verifiedAt, long maxAgeSeconds, string path)
        {
            if (maxAgeSeconds <= 0)
            {
                return false;
            }
            return (now - verifiedAt) < maxAgeSeconds * (0.5 + 0.5 * Fraction(path));
        }
    }

    public static class Hashing
    {
        // SHA-256 from CNG (fast, native); the CSP where the FIPS policy allows only validated
        // algorithm classes. The managed SHA256Managed is never used: it is slow and not FIPS.
        public static SHA256 NewSha256()
        {
            if (CryptoConfig.AllowOnlyFipsAlgorithms)
            {
                return new SHA256CryptoServiceProvider();
            }
            return new SHA256Cng();
        }

        public static string Hex(byte[] bytes)
        {
            StringBuilder hex = new StringBuilder(bytes.Length * 2);
            foreach (byte b in bytes)
            {
                hex.Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            }
            return hex.ToString();
        }
    }

    public static class Names
    {
        // A version folder: ASCII "[0-9]{8}.[0-9]{3}", matched whole (no other digits, no
        // trailing newline: what .NET's \d and $ would let through).
        public static bool IsVersion(string name)
        {
            if (name == null || name.Length != 12 || name[8] != '.')
            {
                return false;
            }
            for (int i = 0; i < name.Length; i++)
            {
                if (i != 8 && (name[i] < '0' || name[i] > '9'))
                {
                    return false;
                }
            }
            return true;
        }

        // Names Windows opens as a device, not a file, in any folder: with any extension, trailing
        // dots or spaces, in any case; Windows counts the superscript digits as digits (COM\u00b9 is a
        // port). The same table as the controller's manifest.RESERVED_DEVICE_NAMES.
        private static readonly HashSet<string> Devices = DeviceTable();

        private static HashSet<string> DeviceTable()
        {
            HashSet<string> names = new HashSet<string>(StringComparer.Ordinal) { "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$" };
            foreach (string port in new string[] { "COM", "LPT" })
            {
                foreach (char digit in "0123456789\u00b9\u00b2\u00b3")
                {
                    names.Add(port + digit);
                }
            }
            return names;
        }

        // The device a name opens ("NUL.txt", "con .dat", "COM\u00b9"), or null: Windows drops trailing
        // dots and spaces, then the extension (from the first dot) and the spaces before it.
        public static string Device(string name)
        {
            string stem = (name ?? "").TrimEnd('.', ' ');
            int dot = stem.IndexOf('.');
            if (dot >= 0)
            {
                stem = stem.Substring(0, dot);
            }
            stem = stem.TrimEnd(' ').ToUpperInvariant();
            return Devices.Contains(stem) ? stem : null;
        }

        // One path component of a store a step may name: no separators, no drive, not . or ..; no
        // name Win32 would silently change (a trailing dot or space) or open as a device.
        public static bool IsComponent(string name)
        {
            if (string.IsNullOrEmpty(name) || name == "." || name == ".." || name.Length > 255)
            {
                return false;
            }
            if (name.EndsWith(".", StringComparison.Ordinal) || name.EndsWith(" ", StringComparison.Ordinal) || Device(name) != null)
            {
                return false;
            }
            return name.IndexOfAny(new char[] { '\\', '/', ':', '\0' }) < 0;
        }

        public static string Join(string folder, string name)
        {
            return folder.TrimEnd('\\', '/') + "\\" + name;
        }
    }

    // Win32 paths in their \\?\ form: no MAX_PATH limit and no normalization, so a name with a
    // trailing dot or space, or a reserved device name below a folder, is the name on disk.
    // 8.3 short names (PROGRA~3): a store path that may hold one is expanded (GetLongPathName) before it is
    // reported, so that one folder is one store whichever way its path was written.
    public static class ShortNames
    {
        // Whether a component of `path` looks like a short name: a tilde followed by a digit.
        public static bool Maybe(string path)
        {
            if (string.IsNullOrEmpty(path))
            {
                return false;
            }
            foreach (string part in path.Replace('/', '\\').Split('\\'))
            {
                int tilde = part.IndexOf('~');
                if (tilde > 0 && tilde < part.Length - 1 && part[tilde + 1] >= '0' && part[tilde + 1] <= '9')
                {
                    return true;
                }
            }
            return false;
        }
    }

    public static class LongPath
    {
        // A \\?\ path as a plain one (what GetLongPathName hands back for a \\?\ path).
        public static string Plain(string path)
        {
            if (path.StartsWith("\\\\?\\UNC\\", StringComparison.Ordinal))
            {
                return "\\\\" + path.Substring(8);
            }
            return path.StartsWith("\\\\?\\", StringComparison.Ordinal) ? path.Substring(4) : path;
        }

        public static string Of(string path)
        {
            if (string.IsNullOrEmpty(path))
            {
                throw new ArgumentException("an empty path");
            }
            string full = path.Replace('/', '\\');
            if (full.StartsWith("\\\\?\\", StringComparison.Ordinal))
            {
                return full;
            }
            if (full.StartsWith("\\\\.\\", StringComparison.Ordinal))
            {
                throw new ArgumentException(string.Format("{0} is a device path, not a folder or file", path));
            }
            string prefix;
            string rest;
            if (full.StartsWith("\\\\", StringComparison.Ordinal))
            {
                prefix = "\\\\?\\UNC\\";
                rest = full.Substring(2);
            }
            else if (full.Length >= 3 && full[1] == ':' && full[2] == '\\' && ((full[0] >= 'A' && full[0] <= 'Z') || (full[0] >= 'a' && full[0] <= 'z')))
            {
                prefix = "\\\\?\\";
                rest = full;
            }
            else
            {
                throw new ArgumentException(string.Format("{0} is not a full path", path));
            }
            // \\?\ turns off Win32's normalization: "." and ".." would be names, so a path holding one is refused
            string[] parts = rest.Split('\\');
            for (int i = 1; i < parts.Length; i++)
            {
                if (parts[i] == "." || parts[i] == ".." || (parts[i].Length == 0 && i < parts.Length - 1))
                {
                    throw new ArgumentException(string.Format("{0} is not a normalized full path", path));
                }
            }
            return prefix + rest;
        }
    }

    // The NTFS change journal's witness of a file's state: the file's USN (the journal's sequence
    // number of the last record written for it) and the journal's ID. Any change to the file writes
    // a record (a new USN); a new journal has a new ID. A writer cannot set either back.
    public static class Usn
    {
        // The Usn field of the USN_RECORD FSCTL_READ_FILE_USN_DATA returns (V2: offset 24; V3, with
        // 128-bit file IDs: offset 40).
        public static long FromRecord(byte[] buffer, int length)
        {
            if (buffer == null || length < 8 || length > buffer.Length)
            {
                throw new FormatException("the USN record is too short");
            }
            int recordLength = BitConverter.ToInt32(buffer, 0);
            int major = BitConverter.ToUInt16(buffer, 4);
            int offset;
            if (major == 2)
            {
                offset = 24;
            }
            else if (major == 3)
            {
                offset = 40;
            }
            else
            {
                throw new FormatException(string.Format("USN record version {0} is not known", major));
            }
            if (recordLength < offset + 8 || length < offset + 8)
            {
                throw new FormatException("the USN record is too short");
            }
            return BitConverter.ToInt64(buffer, offset);
        }

        // UsnJournalID, the first field of USN_JOURNAL_DATA (FSCTL_QUERY_USN_JOURNAL).
        public static ulong JournalId(byte[] buffer, int length)
        {
            if (buffer == null || length < 16 || length > buffer.Length)
            {
                throw new FormatException("the USN journal data is too short");
            }
            return BitConverter.ToUInt64(buffer, 0);
        }

        // The Windows cache entry's change_stamp (cache format 3): journal ID, USN and NTFS change time.
        public static string ChangeStamp(ulong journal, long usn, long changeTime)
        {
            return string.Format(System.Globalization.CultureInfo.InvariantCulture, "{0:x16}:{1}:{2}", journal, usn, changeTime);
        }
    }

    // A process that holds a file, as the Restart Manager names it.
    public sealed class Holder
    {
        public int ProcessId;
        public string Name;
        public string Service;
    }

    public static class Holders
    {
        // Each holder once, by name: "SMSMSE (service smsmse, pid 4242)", in ordinal order.
        public static List<string> Names(IList<Holder> holders)
        {
            SortedDictionary<string, bool> seen = new SortedDictionary<string, bool>(StringComparer.Ordinal);
            foreach (Holder holder in holders)
            {
                string name = string.IsNullOrEmpty(holder.Name) ? "process" : holder.Name;
                string text = string.IsNullOrEmpty(holder.Service)
                    ? string.Format(System.Globalization.CultureInfo.InvariantCulture, "{0} (pid {1})", name, holder.ProcessId)
                    : string.Format(System.Globalization.CultureInfo.InvariantCulture, "{0} (service {1}, pid {2})", name, holder.Service, holder.ProcessId);
                seen[Text.Head(text, 256)] = true;
            }
            return new List<string>(seen.Keys);
        }

        // Files in batches for RmRegisterResources (one call per batch, none empty).
        public static List<string[]> Batches(IList<string> files, int size)
        {
            List<string[]> batches = new List<string[]>();
            for (int i = 0; i < files.Count; i += size)
            {
                int count = Math.Min(size, files.Count - i);
                string[] batch = new string[count];
                for (int j = 0; j < count; j++)
                {
                    batch[j] = files[i + j];
                }
                batches.Add(batch);
            }
            return batches;
        }
    }

    // One access-control entry of a folder's DACL, as read on the host (SID string, access mask).
    public sealed class AceInfo
    {
        public string Sid;
        public int Mask;
        public bool Allow;
        public bool InheritOnly;
    }

    // One folder on the way from the volume root to a store (or cache, or quarantine) folder.
    public sealed class LevelInfo
    {
        public string Path;
        public bool Exists;
        public bool Reparse;
        public string OwnerSid;
        public IList<AceInfo> Aces = new List<AceInfo>();
    }

    public sealed class PrivacyProblem
    {
        public string Path;
        public string Kind;
        public string Sid;
        public string Rights;
    }

    // Whether only trusted accounts can change what a folder holds. The folder itself (the leaf):
    // no allow-ACE, inherited or inheritable, grants anyone else write, create, delete-child, delete,
    // change-permissions or take-ownership. Every folder above it: no reparse point, a trusted owner,
    // and no allow-ACE on the folder itself lets anyone else delete it, delete its children or change
    // its permissions (create rights there, as C:\ and %ProgramData% give Users, cannot replace an
    // existing folder). Trusted: the accounts below (data, extended per call), never by name.
    public static class Privacy
    {
        public const string LocalSystem = "S-1-5-18";
        public const string Administrators = "S-1-5-32-544";
        public const string TrustedInstaller = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464";
        // CREATOR OWNER and OWNER RIGHTS stand for the owner, which is checked on its own
        public const string CreatorOwner = "S-1-3-0";
        public const string OwnerRights = "S-1-3-4";

        public static readonly string[] TrustedSids = { LocalSystem, Administrators, TrustedInstaller };

        private const int WriteData = 0x2;
        private const int AppendData = 0x4;
        private const int DeleteChild = 0x40;
        private const int Delete = 0x10000;
        private const int WriteDac = 0x40000;
        private const int WriteOwner = 0x80000;
        private const int GenericAll = 0x10000000;
        private const int GenericWrite = 0x40000000;

        public const int LeafRights = WriteData | AppendData | DeleteChild | Delete | WriteDac | WriteOwner;
        public const int ParentRights = DeleteChild | Delete | WriteDac | WriteOwner;

        private static readonly string[][] RightNames =
        {
            new string[] { "0x2", "write/create files" },
            new string[] { "0x4", "append/create folders" },
            new string[] { "0x40", "delete children" },
            new string[] { "0x10000", "delete" },
            new string[] { "0x40000", "change permissions" },
            new string[] { "0x80000", "take ownership" },
        };

        public static HashSet<string> Trusted(IEnumerable<string> extra)
        {
            HashSet<string> trusted = new HashSet<string>(TrustedSids, StringComparer.OrdinalIgnoreCase);
            if (extra != null)
            {
                foreach (string sid in extra)
                {
                    if (!string.IsNullOrEmpty(sid))
                    {
                        trusted.Add(sid);
                    }
                }
            }
            return trusted;
        }

        // The specific rights a mask grants, generic rights mapped as NTFS maps them.
        public static int Effective(int mask)
        {
            int rights = mask & 0x00FFFFFF;
            if ((mask & GenericAll) != 0)
            {
                rights |= LeafRights;
            }
            if ((mask & GenericWrite) != 0)
            {
                rights |= WriteData | AppendData;
            }
            return rights;
        }

        public static string Describe(int rights)
        {
            List<string> names = new List<string>();
            foreach (string[] pair in RightNames)
            {
                if ((rights & Convert.ToInt32(pair[0], 16)) != 0)
                {
                    names.Add(pair[1]);
                }
            }
            return string.Join(", ", names.ToArray());
        }

        // The store privacy rule, the one rule of both the stores (SmsmseEngine.PrivacyPolicy, the policy the
        // request sends) and the agent's own folders (StoreNative.PrivateFolder): what lets an account the
        // rule does not trust change the folder at `levels[levels.Count - 1]` (levels run from the volume
        // root down). Empty: private. Missing levels are skipped (nothing to check yet). `writers` may change
        // anything; `creators` (may be null) may only create entries in the leaf itself; an owner is accepted
        // when it is one of `owners` or `ownerAccepted` (may be null) says so. Rights to create entries in a
        // folder above the leaf cannot replace what is there and are never counted.
        public static List<PrivacyProblem> Problems(IList<LevelInfo> levels, ISet<string> writers, ISet<string> creators, ISet<string> owners, Func<string, bool> ownerAccepted)
        {
            List<PrivacyProblem> problems = new List<PrivacyProblem>();
            for (int i = 0; i < levels.Count; i++)
            {
                LevelInfo level = levels[i];
                if (!level.Exists)
                {
                    continue;
                }
                bool leaf = i == levels.Count - 1;
                if (level.Reparse)
                {
                    problems.Add(Problem(level.Path, "reparse", null, null));
                }
                bool ownerOk = !string.IsNullOrEmpty(level.OwnerSid) && (owners.Contains(level.OwnerSid) || (ownerAccepted != null && ownerAccepted(level.OwnerSid)));
                if (!ownerOk)
                {
                    problems.Add(Problem(level.Path, "owner", level.OwnerSid, null));
                }
                foreach (AceInfo ace in level.Aces)
                {
                    if (!ace.Allow || writers.Contains(ace.Sid) || ace.Sid == CreatorOwner || ace.Sid == OwnerRights || (!leaf && ace.InheritOnly))
                    {
                        continue;
                    }
                    int granted = Effective(ace.Mask) & (leaf ? LeafRights : ParentRights);
                    if (leaf && creators != null && creators.Contains(ace.Sid))
                    {
                        granted &= ~(WriteData | AppendData);
                    }
                    if (granted != 0)
                    {
                        problems.Add(Problem(level.Path, "writer", ace.Sid, Describe(granted)));
                    }
                }
            }
            return problems;
        }

        // The rule for a folder only `trusted` accounts may own or change (the hash cache, the state folder).
        public static List<PrivacyProblem> Problems(IList<LevelInfo> levels, ISet<string> trusted)
        {
            return Problems(levels, trusted, null, trusted, null);
        }

        private static PrivacyProblem Problem(string path, string kind, string sid, string rights)
        {
            PrivacyProblem problem = new PrivacyProblem();
            problem.Path = path;
            problem.Kind = kind;
            problem.Sid = sid;
            problem.Rights = rights;
            return problem;
        }

        // One problem as a sentence naming the path, the account and the fix.
        public static string Message(PrivacyProblem problem, string account)
        {
            if (problem.Kind == "reparse")
            {
                return string.Format("{0} is a junction or link: replace it with a real folder (a link lets a file operation land elsewhere)", problem.Path);
            }
            if (problem.Kind == "owner")
            {
                return string.Format("{0} is owned by {1}, which the store privacy rule does not accept: add its SID to the store_privacy option's owners when it should own the folder, else make an accepted account its owner (icacls \"{0}\" /setowner *{2}, the Administrators group by SID; never on Windows' own folders)", problem.Path, account ?? "nobody", Administrators);
            }
            // icacls takes an account by SID as *S-1-...: a name is localized and a deleted account has none
            return string.Format("{0} lets {1} {2}: add its SID to the store_privacy option's writers when it should change the stores, else remove that permission (icacls \"{0}\" /remove:g *{3}, and /inheritance:d first when it is inherited; never on Windows' own folders)", problem.Path, account, problem.Rights, problem.Sid);
        }
    }

    public sealed class FsEntry
    {
        public string Name;
        public bool Directory;
        public bool Reparse;
        public bool ReadOnly;
    }

    // What a tree removal needs from a file system (Windows: StoreNative.TreeFs).
    public interface ITreeFs
    {
        FsEntry Stat(string path);
        IList<FsEntry> List(string path);
        int RemoveDirectory(string path);
        int DeleteFile(string path, bool clearReadOnly);
        void Sleep(int milliseconds);
    }

    public static class Tree
    {
        // Remove `path` and everything below it without ever following a reparse point: a
        // junction or symbolic link (at the top or inside) is removed itself, its target is
        // never touched. Best-effort: every entry is tried, each with retries; what could not
        // be removed is added to `remaining`. Returns the first error (0: all gone).
        // Every retry of the removal shares one budget of `retrySeconds` (RetryBudget).
        public static int Remove(ITreeFs fs, string path, int retrySeconds, IList<string> remaining)
        {
            return Remove(fs, path, new RetryBudget(retrySeconds), remaining);
        }

        private static int Remove(ITreeFs fs, string path, RetryBudget budget, IList<string> remaining)
        {
            FsEntry top;
            try
            {
                top = fs.Stat(path);
            }
            catch (Exception exception)
            {
                remaining.Add(path);
                int stat = Win32Error.FromException(exception);
                return stat == 0 ? Win32Error.AccessDenied : stat;
            }
            if (top == null)
            {
                return 0;
            }
            if (top.Reparse || !top.Directory)
            {
                int code = Retry(fs, budget, delegate { return top.Directory ? fs.RemoveDirectory(path) : fs.DeleteFile(path, false); });
                if (code != 0)
                {
                    remaining.Add(path);
                }
                return code;
            }
            int first = 0;
            IList<FsEntry> children;
            try
            {
                children = fs.List(path);
            }
            catch (Exception exception)
            {
                remaining.Add(path);
                int listed = Win32Error.FromException(exception);
                return listed == 0 ? Win32Error.AccessDenied : listed;
            }
            foreach (FsEntry child in children)
            {
                string full = Names.Join(path, child.Name);
                int code;
                if (child.Directory && !child.Reparse)
                {
                    code = Remove(fs, full, budget, remaining);
                }
                else
                {
                    FsEntry entry = child;
                    code = Retry(fs, budget, delegate { return entry.Directory ? fs.RemoveDirectory(full) : fs.DeleteFile(full, !entry.Reparse && entry.ReadOnly); });
                    if (code != 0)
                    {
                        remaining.Add(full);
                    }
                }
                if (first == 0)
                {
                    first = code;
                }
            }
            int own = Retry(fs, budget, delegate { return fs.RemoveDirectory(path); });
            if (own != 0)
            {
                remaining.Add(path);
                if (first == 0)
                {
                    first = own;
                }
            }
            return first;
        }

        private static int Retry(ITreeFs fs, RetryBudget budget, Func<int> attempt)
        {
            return RetryPolicy.Run(attempt, budget, fs.Sleep, RetryPolicy.IsTransient);
        }
    }
}
