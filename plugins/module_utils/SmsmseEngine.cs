// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy
//
// The Windows agent's engine: one operation of the agent contract (schemas/agent/*.json) per
// call, behind small operating-system interfaces (IHost). Windows PowerShell runs it through
// defs_agent_win.ps1 with the P/Invoke host (SmsmseEngineWin.cs); mono runs the very same code
// over ordinary folders with the managed host (SmsmseEngineHost.cs): the lab, and the tests
// that hold it to the shared case tables (tests/contract/). This file holds the entry point,
// the interfaces, a small JSON reader/writer (the lock and the hash cache are JSON files), the
// probe and the hash cache. The change code (apply) lives in SmsmseEngineApply.cs and is found
// at run time, so that a probe does not carry it.

using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy;

namespace ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine
{
    // What the file system says of one entry, never following a link. Kind: file, dir, link,
    // other (FIFO, device, socket). Stamp: what the file's writer cannot set back (POSIX ctime
    // in ns, NTFS USN with the journal); FileId: device and inode, or volume and NTFS file ID.
    // Either is null where the host cannot read it: then no cache entry is trusted.
    public sealed class Entry
    {
        public string Name;
        public string Kind;
        public bool LinkToDir;
        public long Size;
        public long MtimeSeconds;
        public long MtimeNanos;
        public string Stamp;
        public string FileId;
        public string Volume;
        public bool ReadOnly;

        // The modification time as the reply carries it, exactly as the POSIX agent's round(st_mtime, 6):
        // the double sec + nsec * 1e-9, rounded half to even from its exact binary value to whole
        // microseconds, then the double nearest to that many microseconds.
        public double Mtime
        {
            get { return RoundMicros((double)MtimeSeconds + MtimeNanos * 1e-9); }
        }

        public static double RoundMicros(double x)
        {
            long bits = BitConverter.DoubleToInt64Bits(Math.Abs(x));
            int exponent = (int)((bits >> 52) & 0x7FF);
            long mantissa = bits & 0xFFFFFFFFFFFFFL;
            if (exponent == 0)
            {
                exponent = 1;
            }
            else
            {
                mantissa |= 1L << 52;
            }
            exponent -= 1075;
            if (exponent >= 0 || exponent < -62)
            {
                return Math.Round(x, 6, MidpointRounding.ToEven);
            }
            decimal scaled = (decimal)mantissa * 1000000m;
            decimal divisor = (decimal)(1UL << -exponent);
            decimal remainder = scaled % divisor;
            decimal quotient = (scaled - remainder) / divisor;
            if (remainder * 2 > divisor || (remainder * 2 == divisor && quotient % 2 == 1))
            {
                quotient += 1;
            }
            double rounded = (double)(long)quotient / 1000000.0;
            return x < 0 ? -rounded : rounded;
        }

        public long MtimeNs
        {
            get { return MtimeSeconds * 1000000000L + MtimeNanos; }
        }
    }

    // A system call that failed, with its Win32 code (the engine's vocabulary on every host).
    public sealed class HostException : IOException
    {
        public readonly int Code;

        public HostException(int code, string message, string path)
            : base(path == null ? message : message + " (" + path + ")")
        {
            Code = code;
        }
    }

    // A step that ends with `Result` (not done, not failed by a system error).
    public sealed class Refusal : Exception
    {
        public readonly string Result;
        public readonly string Code;
        public readonly Dictionary<string, object> Details;

        public Refusal(string result, string message, string code, Dictionary<string, object> data)
            : base(message)
        {
            Result = result;
            Code = code;
            Details = data ?? new Dictionary<string, object>();
        }

        public Refusal(string result, string message)
            : this(result, message, null, null)
        {
        }
    }

    public static class Codes
    {
        public const int FileNotFound = 2;
        public const int PathNotFound = 3;
        public const int AccessDenied = 5;
        public const int SharingViolation = 32;
        public const int NotSameDevice = 17;
        public const int NotReady = 21;
        public const int DiskFull = 112;
        public const int DirNotEmpty = 145;
        public const int AlreadyExists = 183;
        public const int Timeout = 1460;

        public static int Of(Exception exception)
        {
            HostException host = exception as HostException;
            if (host != null)
            {
                return host.Code;
            }
            if (exception is FileNotFoundException)
            {
                return FileNotFound;
            }
            if (exception is DirectoryNotFoundException)
            {
                return PathNotFound;
            }
            if (exception is UnauthorizedAccessException)
            {
                return AccessDenied;
            }
            return Win32Error.FromException(exception);
        }
    }

    public interface IFileSystem
    {
        // lstat: null when nothing is there.
        Entry Stat(string path);
        // stat, a link followed: null when nothing (or a link to nothing) is there.
        Entry StatFollow(string path);
        // The entries of a folder, in no particular order; links are entries, never entered.
        IList<Entry> List(string folder);
        // A regular file opened for reading, sharing read, write and delete, not following a link.
        Stream OpenRead(string path);
        // A new file (never an existing one).
        Stream CreateNew(string path);
        // An existing regular file opened for writing without changing it (whether it may be replaced).
        void ProbeWritable(string path);
        void CreateFolder(string path);
        // Rename a file, link or folder to a free name; never replaces, never copies across volumes
        // (HostException NotSameDevice).
        void Move(string from, string to);
        // Replace `target` (a file, a link, or nothing) by the file `replacement`, atomically.
        void Replace(string replacement, string target);
        // Remove a file or a link (never what it leads to).
        void Delete(string path);
        void DeleteFolder(string path);
        // Clear a read-only attribute (Windows refuses to delete a read-only file).
        void MakeWritable(string path);
        // Copy the times of `source` to `target`.
        void CopyTimes(string source, string target);
        long? FreeBytes(string path);
        // The folder's full path with every link resolved (POSIX realpath; Windows: the final path of a handle
        // opened through its reparse points), so that two stores that are one folder are seen as one.
        string RealPath(string path);
        // Flush a folder's entries to disk (a no-op where renames are durable).
        void Flush(string folder);
        // Why the folder may not hold state the agent trusts (owned by another, writable by others, a
        // link), or null; `create` makes it private first.
        string PrivateFolder(string path, bool create);
        // Why the file may not be trusted, or null (absent is trusted: nothing to read).
        string PrivateFile(string path);
        // Write `data` as the private file `path` atomically.
        void WritePrivate(string path, byte[] data);
        // Whether another process holds the file open for writing, which its change stamp may not show yet
        // (an NTFS USN is journalled at a handle's first write, not at each); false where the host cannot
        // tell or where the stamp moves with every write (POSIX ctime).
        bool WriterPresent(string path);
        // `path` with its 8.3 short names expanded (Windows); as given where there are none, or nothing is there.
        string LongName(string path);
    }

    public sealed class RunResult
    {
        public bool Started;
        public bool Exited;
        public bool TimedOut;
        public int ExitCode;
        public string Output = "";
        public double Seconds;
        public string Error;
    }

    public interface IProcesses
    {
        int CurrentId { get; }
        string HostName { get; }
        // The boot's identity (null where the host has none to read).
        string BootId { get; }
        // When the host last started, in Unix seconds (0 where the boot ID says it instead).
        double BootTime { get; }
        bool Alive(int pid);
        // Which start of the live process `pid` this is, as no clock change moves it (Linux: its start in
        // clock ticks since the boot; Windows: its creation time as the kernel keeps it); null where unknown.
        string StartToken(int pid);
        RunResult Run(string program, IList<string> arguments, int timeoutSeconds, int tailChars);
        string Which(string program);
    }

    public interface IClock
    {
        double Now { get; }
        void Sleep(int milliseconds);
    }

    // The product as the host knows it, its events, and the scanner's service.
    public interface IProduct
    {
        Dictionary<string, object> Read(IDictionary request);
        // Windows: the raw Uninstall entries and services the controller picks the product from; null elsewhere.
        Dictionary<string, object> Installed();
        // Events and the reason they could not be read (or null).
        List<object> Events(IDictionary request, int limit, out string error);
        // Write events (the Application log on Windows, the events file elsewhere); how many.
        int WriteEvents(IList<IDictionary> events, string eventsFile);
    }

    // Starts and stops the scanner. Windows: the service (with the Restart Manager's holders);
    // elsewhere the configured command. A stop is recorded on the host before it happens.
    public interface IServices
    {
        // Stop or start the scanner; the step's data, or an exception (a Refusal) for what went wrong.
        Dictionary<string, object> Act(string action, IDictionary args);
        // Who holds files of the folder open (Windows: the Restart Manager); empty where nobody can.
        IList<string> Holders(string folder);
    }

    // One HTTP(S) GET of a distribution point's file, redirects not followed: what the server answered
    // and the body as it arrives. Abort cuts the connection (the fetch's deadline).
    public sealed class Download : IDisposable
    {
        public int Status;
        public string Reason;
        public string Location;
        // the Content-Length the server declared, or -1
        public long Length = -1;
        public Stream Body;
        public Action Abort;

        public void Dispose()
        {
            if (Body != null)
            {
                Body.Dispose();
            }
        }
    }

    public sealed class DownloadOptions
    {
        public int TimeoutSeconds;
        public bool ValidateCerts;
        // PEM text of the CAs that may sign the server's certificate, or null: the system's
        public string CaPem;
        // an explicit proxy URL, or null: the system proxy
        public string Proxy;
    }

    // The fetch step's web client (SmsmseEngineFetch.cs), behind an interface so that a test double
    // can break a connection, cut a body short or stall.
    public interface IDownloads
    {
        Download Get(string url, DownloadOptions options);
    }

    public sealed class HostInfo
    {
        public string Os;
        public string OsVersion;
        public string Arch;
        public string HostName;
        public string DefaultCacheDir;
        // Where the agent records what it must put right if it dies (a stopped service).
        public string StateDir;
    }

    public interface IHost
    {
        HostInfo Info { get; }
        // What runs the engine, for the facts ("PowerShell 5.1.17763.1, .NET 4.8", "Mono 6.8.0.105").
        string Runtime { get; }
        IFileSystem Files { get; }
        IProcesses Processes { get; }
        IClock Clock { get; }
        IProduct Product { get; }
        IServices Services { get; }
        // The web client fetch uses; null: the engine's own (.NET's HttpWebRequest, SmsmseEngineFetch.cs).
        IDownloads Downloads { get; }
        string Env(string name);
        // The store privacy record (Windows: PrivacyRule.Record) or null where the host has no such rule.
        Dictionary<string, object> Privacy(string path, IDictionary policy);
    }

    // When a change stops starting steps: asked once before each step of an apply, in order. Once it has
    // passed, the steps not yet started are reported skipped (Why says so), except the steps from a service's
    // stop to its start, which run as one unit, and the `always` steps (the start, the unlock).
    public interface IDeadline
    {
        bool Passed { get; }
        string Why { get; }
    }

    // The host-side deadline of one call, from the moment it is made, on a monotonic clock (a Stopwatch, as the
    // POSIX agent's time.monotonic()): setting the wall clock, by hand or by a time sync, never moves it.
    public sealed class CallDeadline : IDeadline
    {
        private readonly System.Diagnostics.Stopwatch elapsed = System.Diagnostics.Stopwatch.StartNew();
        private readonly long seconds;

        public CallDeadline(long seconds)
        {
            this.seconds = seconds;
        }

        public bool Passed
        {
            get { return elapsed.Elapsed.TotalSeconds >= seconds; }
        }

        public string Why
        {
            get { return Words(seconds); }
        }

        // the words of a step skipped at the deadline (the POSIX agent's apply.py says the same)
        public static string Words(long seconds)
        {
            return "the call's deadline of " + seconds.ToString(CultureInfo.InvariantCulture) + " s on the host (deadline_seconds) passed before this step started; the steps before it stand, and the next run reads the host afresh";
        }
    }

    // The engine's entry point.
    public static class Agent
    {
        public const int Contract = 1;
        public const string Name = "defs_agent_win";
        public const string ApplyType = "ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineApply.Apply";
        // how long one call may run on the host when the agent is not told (the POSIX agent's deadline_seconds)
        public const int DefaultDeadlineSeconds = 3600;

        public static Dictionary<string, object> Run(string op, IDictionary request, bool checkMode, IHost host)
        {
            return Run(op, request, checkMode, host, DefaultDeadlineSeconds);
        }

        // The operation under the host-side deadline of `deadlineSeconds`, so that one host never stalls a run.
        // A probe only reads: it runs on a worker thread, and one still running at the deadline ends with a
        // TimeoutException naming it (the worker is a background thread, which never keeps the process alive).
        // A change is never abandoned part way: it asks the deadline before each step (CallDeadline) and,
        // once it has passed, reports the steps it did not start skipped, releases its locks, starts what it
        // stopped and reads the stores back, as any change that ends early does.
        public static Dictionary<string, object> Run(string op, IDictionary request, bool checkMode, IHost host, int deadlineSeconds)
        {
            int seconds = Math.Max(1, deadlineSeconds);
            if (op != "probe")
            {
                return Run(op, request, checkMode, host, new CallDeadline(seconds));
            }
            ProbeRun run = new ProbeRun(op, request, checkMode, host);
            System.Threading.Thread worker = new System.Threading.Thread(run.Work);
            worker.IsBackground = true;
            worker.CurrentCulture = CultureInfo.InvariantCulture;
            worker.Start();
            worker.Join(TimeSpan.FromSeconds(seconds));
            return run.Outcome(seconds);
        }

        // The operation on this thread, a change asking `deadline` before each step (null: no deadline).
        public static Dictionary<string, object> Run(string op, IDictionary request, bool checkMode, IHost host, IDeadline deadline)
        {
            return RunNow(op, request, checkMode, host, deadline, null);
        }

        // One probe on its worker thread. The worker and the caller agree under a lock on how it ended, so that
        // a reply finished as the deadline passes is the reply returned, never a deadline error on top of it.
        private sealed class ProbeRun
        {
            private readonly object gate = new object();
            private readonly string op;
            private readonly IDictionary request;
            private readonly bool checkMode;
            private readonly IHost host;
            private Dictionary<string, object> reply;
            private Exception failure;
            private bool finished;
            private bool abandoned;
            private readonly Probe.Abandon given = new Probe.Abandon();

            public ProbeRun(string op, IDictionary request, bool checkMode, IHost host)
            {
                this.op = op;
                this.request = request;
                this.checkMode = checkMode;
                this.host = host;
            }

            public void Work()
            {
                Dictionary<string, object> got = null;
                Exception error = null;
                try
                {
                    got = RunNow(op, request, checkMode, host, null, given);
                }
                catch (Exception exception)
                {
                    error = exception;
                }
                lock (gate)
                {
                    if (!abandoned)
                    {
                        reply = got;
                        failure = error;
                        finished = true;
                    }
                }
            }

            public Dictionary<string, object> Outcome(int seconds)
            {
                lock (gate)
                {
                    if (!finished)
                    {
                        abandoned = true;
                        given.Set();
                        throw new TimeoutException("the agent's " + op + " did not finish within its deadline of " + seconds.ToString(CultureInfo.InvariantCulture) + " s on the host");
                    }
                }
                if (failure != null)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
                }
                return reply;
            }
        }

        // `abandon`: set when the caller gave up on a probe (null: never).
        private static Dictionary<string, object> RunNow(string op, IDictionary request, bool checkMode, IHost host, IDeadline deadline, Probe.Abandon abandon)
        {
            if (request == null)
            {
                throw new ArgumentException("the " + op + " request is missing");
            }
            if (checkMode && op != "probe")
            {
                throw new InvalidOperationException(op + " changes the host and does not run in check mode; the controller plans it instead");
            }
            List<string> recovered = StopRecord.Recover(host, checkMode, StoresOf(op, request, host));
            Dictionary<string, object> reply;
            switch (op)
            {
                case "probe":
                    reply = Probe.Run(request, checkMode, host, abandon);
                    break;
                case "apply":
                case "run_liveupdate":
                    reply = Change(op, request, host, deadline);
                    break;
                default:
                    throw new ArgumentException("unknown operation '" + op + "': probe, apply or run_liveupdate");
            }
            if (recovered.Count > 0)
            {
                List<object> warnings = reply.ContainsKey("warnings") ? (List<object>)reply["warnings"] : new List<object>();
                foreach (string warning in recovered)
                {
                    warnings.Insert(0, Wire.Message(warning, 4096));
                }
                reply["warnings"] = warnings;
            }
            return reply;
        }

        // The stores a call names (null: every store of the host). A Windows host is one server: any call
        // puts right what a dead run left anywhere on it. Elsewhere (a lab serves many emulated hosts from
        // one machine and one state folder) only the stores this call names are its business.
        private static HashSet<string> StoresOf(string op, IDictionary request, IHost host)
        {
            if (host.Info.Os == "windows")
            {
                return null;
            }
            HashSet<string> stores = new HashSet<string>(StringComparer.Ordinal);
            foreach (object item in Req.List(request, op == "probe" ? "stores" : "steps"))
            {
                IDictionary entry = item as IDictionary;
                object named = entry == null ? null : Req.Get(entry, op == "probe" ? "template" : "store");
                if (named is string)
                {
                    stores.Add(op == "probe" ? Probe.Expand((string)named, host) : (string)named);
                }
            }
            return stores;
        }

        // apply and run_liveupdate live in SmsmseEngineApply.cs, compiled only for the calls that change.
        private static Dictionary<string, object> Change(string op, IDictionary request, IHost host, IDeadline deadline)
        {
            Type type = null;
            foreach (Assembly assembly in AppDomain.CurrentDomain.GetAssemblies())
            {
                type = assembly.GetType(ApplyType, false);
                if (type != null)
                {
                    break;
                }
            }
            if (type == null)
            {
                throw new InvalidOperationException("the change code (SmsmseEngineApply) is not loaded for " + op);
            }
            MethodInfo method = type.GetMethod("Run", new Type[] { typeof(string), typeof(IDictionary), typeof(IHost), typeof(IDeadline) });
            try
            {
                return (Dictionary<string, object>)method.Invoke(null, new object[] { op, request, host, deadline });
            }
            catch (TargetInvocationException exception)
            {
                throw exception.InnerException ?? exception;
            }
        }
    }

    // Reading requests as Ansible.Basic or the console host gives them.
    public static class Req
    {
        public static object Get(IDictionary map, string key)
        {
            if (map == null || !map.Contains(key))
            {
                return null;
            }
            return map[key];
        }

        public static IDictionary Map(IDictionary map, string key)
        {
            object value = Get(map, key);
            if (value == null)
            {
                return null;
            }
            IDictionary found = value as IDictionary;
            if (found == null)
            {
                throw new ArgumentException("'" + key + "' must be a mapping");
            }
            return found;
        }

        public static IDictionary Need(IDictionary map, string key)
        {
            IDictionary found = Map(map, key);
            if (found == null)
            {
                throw new ArgumentException("'" + key + "' is missing");
            }
            return found;
        }

        public static List<object> List(IDictionary map, string key)
        {
            object value = Get(map, key);
            List<object> items = new List<object>();
            if (value == null)
            {
                return items;
            }
            if (value is string || !(value is IEnumerable))
            {
                throw new ArgumentException("'" + key + "' must be a list");
            }
            foreach (object item in (IEnumerable)value)
            {
                items.Add(item);
            }
            return items;
        }

        public static string Str(IDictionary map, string key)
        {
            object value = Get(map, key);
            if (value == null)
            {
                return null;
            }
            string text = value as string;
            if (text == null)
            {
                throw new ArgumentException("'" + key + "' must be a string");
            }
            return text;
        }

        public static string NeedStr(IDictionary map, string key)
        {
            if (map == null || !map.Contains(key))
            {
                throw new ArgumentException("'" + key + "' is missing");
            }
            string text = Str(map, key);
            if (text == null)
            {
                throw new ArgumentException("'" + key + "' must be a string");
            }
            return text;
        }

        public static long Long(IDictionary map, string key, long fallback)
        {
            object value = Get(map, key);
            if (value == null)
            {
                return fallback;
            }
            if (value is bool || value is string)
            {
                throw new ArgumentException("'" + key + "' must be an integer");
            }
            double number = Convert.ToDouble(value, CultureInfo.InvariantCulture);
            if (number != Math.Floor(number))
            {
                throw new ArgumentException("'" + key + "' must be an integer");
            }
            return Convert.ToInt64(value, CultureInfo.InvariantCulture);
        }

        public static long NeedLong(IDictionary map, string key)
        {
            if (map == null || Get(map, key) == null)
            {
                throw new ArgumentException("'" + key + "' is missing");
            }
            return Long(map, key, 0);
        }

        public static bool Bool(IDictionary map, string key, bool fallback)
        {
            object value = Get(map, key);
            if (value == null)
            {
                return fallback;
            }
            if (!(value is bool))
            {
                throw new ArgumentException("'" + key + "' must be true or false");
            }
            return (bool)value;
        }
    }

    // JSON as the lock file, the hash cache, the events file and the console host hold it.
    // Objects are Dictionary<string, object> (ordinal keys), arrays List<object>, numbers long or
    // double. Keys that differ only in case are distinct (Windows PowerShell's parser is not used).
    public static class Json
    {
        public static object Parse(string text)
        {
            int at = 0;
            object value = Value(text, ref at, 0);
            Space(text, ref at);
            if (at != text.Length)
            {
                throw new FormatException("JSON: unexpected text at " + at);
            }
            return value;
        }

        private static void Space(string text, ref int at)
        {
            while (at < text.Length && (text[at] == ' ' || text[at] == '\t' || text[at] == '\r' || text[at] == '\n'))
            {
                at++;
            }
        }

        private static object Value(string text, ref int at, int depth)
        {
            if (depth > 64)
            {
                throw new FormatException("JSON: nested too deep");
            }
            Space(text, ref at);
            if (at >= text.Length)
            {
                throw new FormatException("JSON: unexpected end");
            }
            char c = text[at];
            if (c == '{')
            {
                Dictionary<string, object> map = new Dictionary<string, object>(StringComparer.Ordinal);
                at++;
                Space(text, ref at);
                if (at < text.Length && text[at] == '}')
                {
                    at++;
                    return map;
                }
                while (true)
                {
                    Space(text, ref at);
                    if (at >= text.Length || text[at] != '"')
                    {
                        throw new FormatException("JSON: a key expected at " + at);
                    }
                    string key = Str(text, ref at);
                    Space(text, ref at);
                    Expect(text, ref at, ':');
                    map[key] = Value(text, ref at, depth + 1);
                    Space(text, ref at);
                    if (at < text.Length && text[at] == ',')
                    {
                        at++;
                        continue;
                    }
                    Expect(text, ref at, '}');
                    return map;
                }
            }
            if (c == '[')
            {
                List<object> list = new List<object>();
                at++;
                Space(text, ref at);
                if (at < text.Length && text[at] == ']')
                {
                    at++;
                    return list;
                }
                while (true)
                {
                    list.Add(Value(text, ref at, depth + 1));
                    Space(text, ref at);
                    if (at < text.Length && text[at] == ',')
                    {
                        at++;
                        continue;
                    }
                    Expect(text, ref at, ']');
                    return list;
                }
            }
            if (c == '"')
            {
                return Str(text, ref at);
            }
            if (Word(text, ref at, "true"))
            {
                return true;
            }
            if (Word(text, ref at, "false"))
            {
                return false;
            }
            if (Word(text, ref at, "null"))
            {
                return null;
            }
            return Number(text, ref at);
        }

        private static bool Word(string text, ref int at, string word)
        {
            if (string.CompareOrdinal(text, at, word, 0, word.Length) == 0)
            {
                at += word.Length;
                return true;
            }
            return false;
        }

        private static void Expect(string text, ref int at, char c)
        {
            if (at >= text.Length || text[at] != c)
            {
                throw new FormatException("JSON: '" + c + "' expected at " + at);
            }
            at++;
        }

        private static object Number(string text, ref int at)
        {
            int start = at;
            bool real = false;
            while (at < text.Length && "+-0123456789.eE".IndexOf(text[at]) >= 0)
            {
                real |= text[at] == '.' || text[at] == 'e' || text[at] == 'E';
                at++;
            }
            string token = text.Substring(start, at - start);
            if (token.Length == 0)
            {
                throw new FormatException("JSON: unexpected character at " + start);
            }
            long whole;
            if (!real && long.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out whole))
            {
                return whole;
            }
            return double.Parse(token, NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        private static string Str(string text, ref int at)
        {
            StringBuilder found = new StringBuilder();
            at++;
            while (true)
            {
                if (at >= text.Length)
                {
                    throw new FormatException("JSON: unterminated string");
                }
                char c = text[at++];
                if (c == '"')
                {
                    return found.ToString();
                }
                if (c != '\\')
                {
                    found.Append(c);
                    continue;
                }
                if (at >= text.Length)
                {
                    throw new FormatException("JSON: unterminated string");
                }
                char e = text[at++];
                switch (e)
                {
                    case 'n': found.Append('\n'); break;
                    case 'r': found.Append('\r'); break;
                    case 't': found.Append('\t'); break;
                    case 'b': found.Append('\b'); break;
                    case 'f': found.Append('\f'); break;
                    case 'u':
                        if (at + 4 > text.Length)
                        {
                            throw new FormatException("JSON: bad \\u escape");
                        }
                        found.Append((char)int.Parse(text.Substring(at, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                        at += 4;
                        break;
                    default: found.Append(e); break;
                }
            }
        }

        public static string Write(object value)
        {
            StringBuilder text = new StringBuilder();
            Write(text, value);
            return text.ToString();
        }

        private static void Write(StringBuilder text, object value)
        {
            if (value == null)
            {
                text.Append("null");
            }
            else if (value is string)
            {
                Quote(text, (string)value);
            }
            else if (value is bool)
            {
                text.Append((bool)value ? "true" : "false");
            }
            else if (value is double || value is float)
            {
                double number = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                string shown = number.ToString("R", CultureInfo.InvariantCulture);
                if (double.Parse(shown, CultureInfo.InvariantCulture) != number)
                {
                    shown = number.ToString("G17", CultureInfo.InvariantCulture);
                }
                if (shown.IndexOfAny(new char[] { '.', 'E', 'e' }) < 0)
                {
                    shown += ".0";
                }
                text.Append(shown);
            }
            else if (value is IDictionary)
            {
                text.Append('{');
                bool first = true;
                foreach (DictionaryEntry item in (IDictionary)value)
                {
                    if (!first)
                    {
                        text.Append(", ");
                    }
                    first = false;
                    Quote(text, Convert.ToString(item.Key, CultureInfo.InvariantCulture));
                    text.Append(": ");
                    Write(text, item.Value);
                }
                text.Append('}');
            }
            else if (value is IEnumerable)
            {
                text.Append('[');
                bool first = true;
                foreach (object item in (IEnumerable)value)
                {
                    if (!first)
                    {
                        text.Append(", ");
                    }
                    first = false;
                    Write(text, item);
                }
                text.Append(']');
            }
            else
            {
                text.Append(Convert.ToString(value, CultureInfo.InvariantCulture));
            }
        }

        private static void Quote(StringBuilder text, string value)
        {
            text.Append('"');
            foreach (char c in value)
            {
                switch (c)
                {
                    case '"': text.Append("\\\""); break;
                    case '\\': text.Append("\\\\"); break;
                    case '\n': text.Append("\\n"); break;
                    case '\r': text.Append("\\r"); break;
                    case '\t': text.Append("\\t"); break;
                    default:
                        if (c < 0x20 || c > 0x7e)
                        {
                            text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            text.Append(c);
                        }
                        break;
                }
            }
            text.Append('"');
        }
    }

    public static class Sha
    {
        public static SHA256 New()
        {
            try
            {
                return Hashing.NewSha256();
            }
            catch (PlatformNotSupportedException)
            {
                return SHA256.Create();
            }
            catch (TypeLoadException)
            {
                return SHA256.Create();
            }
        }

        public static string Of(byte[] data)
        {
            using (SHA256 sha = New())
            {
                return Hashing.Hex(sha.ComputeHash(data));
            }
        }

        // The SHA-256 of what is left in the stream, and how many bytes that was.
        public static string Stream(Stream stream, out long count)
        {
            using (SHA256 sha = New())
            {
                byte[] buffer = new byte[1 << 20];
                count = 0;
                int read;
                while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
                {
                    sha.TransformBlock(buffer, 0, read, null, 0);
                    count += read;
                }
                sha.TransformFinalBlock(buffer, 0, 0);
                return Hashing.Hex(sha.Hash);
            }
        }
    }

    public static class Paths
    {
        public static char Separator(string path)
        {
            return path.IndexOf('\\') >= 0 && path.IndexOf('/') < 0 ? '\\' : Path.DirectorySeparatorChar;
        }

        public static string Join(string folder, string name)
        {
            char sep = Separator(folder);
            return folder.Length > 0 && (folder[folder.Length - 1] == sep) ? folder + name : folder + sep + name;
        }

        public static string JoinRelative(string folder, string rel)
        {
            return Join(folder, rel.Replace('/', Separator(folder)));
        }

        public static bool IsFull(string path)
        {
            return !string.IsNullOrEmpty(path) && Path.IsPathRooted(path) && (path[0] == '/' || path.StartsWith("\\\\", StringComparison.Ordinal) || (path.Length > 2 && path[1] == ':' && (path[2] == '\\' || path[2] == '/')));
        }

        public static string Parent(string path)
        {
            string trimmed = path.TrimEnd('/', '\\');
            int cut = trimmed.LastIndexOfAny(new char[] { '/', '\\' });
            if (cut < 0)
            {
                return null;
            }
            if (cut == 0)
            {
                return trimmed.Substring(0, 1);
            }
            if (cut == 2 && trimmed[1] == ':')
            {
                return trimmed.Substring(0, 3);
            }
            return trimmed.Substring(0, cut);
        }

        public static int Compare(string a, string b)
        {
            return string.CompareOrdinal(a, b);
        }
    }

    // The store privacy rule, as data the controller sends (request "privacy"; defaults below, as
    // the product's installer secures its folders). At every level from the volume root down to
    // the store: no reparse point; an accepted owner (an account of `owners`, or, with
    // `owner_admins`, any member of the local Administrators: the admin who ran the installer);
    // no allow-ACE of another account that lets it change the folder. `writers` may change
    // anything; `creators` (none by default) may only create entries in the store itself. By
    // default nobody else may: an account that can create a folder in a store can add a newer
    // YYYYMMDD.RRR set (or a junction, or a file inside a set, the right being inheritable) that
    // structure alone would call good, so a store that inherits %ProgramData%'s "Users may create
    // files and folders" is not private. Rights to create entries in a folder above the store are
    // no risk (they cannot replace what is there) and never counted.
    public sealed class PrivacyPolicy
    {
        public HashSet<string> Writers = Privacy.Trusted(null);
        public HashSet<string> Creators = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        public HashSet<string> Owners = Privacy.Trusted(null);
        public bool OwnerAdmins = true;

        public static PrivacyPolicy From(IDictionary request)
        {
            PrivacyPolicy policy = new PrivacyPolicy();
            if (request == null)
            {
                return policy;
            }
            if (request.Contains("writers"))
            {
                policy.Writers = Sids(request, "writers");
            }
            if (request.Contains("creators"))
            {
                policy.Creators = Sids(request, "creators");
            }
            policy.Owners = request.Contains("owners") ? Sids(request, "owners") : new HashSet<string>(policy.Writers, StringComparer.OrdinalIgnoreCase);
            policy.OwnerAdmins = Req.Bool(request, "owner_admins", true);
            return policy;
        }

        private static HashSet<string> Sids(IDictionary map, string key)
        {
            HashSet<string> found = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (object sid in Req.List(map, key))
            {
                string text = sid as string;
                if (string.IsNullOrEmpty(text) || !text.StartsWith("S-1-", StringComparison.Ordinal))
                {
                    throw new ArgumentException("privacy." + key + " holds '" + sid + "', which is not a SID (S-1-...)");
                }
                found.Add(text);
            }
            return found;
        }

        // What lets an account the policy does not trust change the folder levels[levels.Count - 1]: the one
        // rule, StorePolicy.Privacy.Problems, with this policy's accounts.
        public List<PrivacyProblem> Problems(IList<LevelInfo> levels, Func<string, bool> isAdministrator)
        {
            return Privacy.Problems(levels, Writers, Creators, Owners, OwnerAdmins ? isAdministrator : null);
        }

        // The probe reply's privacy record of `path` (schemas/agent/probe.reply.json, $defs/privacy).
        public Dictionary<string, object> Record(string path, Func<IList<LevelInfo>> inspect, Func<string, bool> isAdministrator, Func<string, string> account)
        {
            Dictionary<string, object> record = new Dictionary<string, object>();
            record["path"] = Wire.Message(path, 1024);
            record["private"] = null;
            List<object> shown = new List<object>();
            record["problems"] = shown;
            record["error"] = null;
            try
            {
                List<PrivacyProblem> problems = Problems(inspect(), isAdministrator);
                record["private"] = problems.Count == 0;
                foreach (PrivacyProblem problem in problems)
                {
                    if (shown.Count >= 32)
                    {
                        break;
                    }
                    Dictionary<string, object> item = new Dictionary<string, object>();
                    item["path"] = Wire.Message(problem.Path, 1024);
                    item["kind"] = problem.Kind;
                    item["account"] = problem.Sid == null ? null : Wire.Message(account(problem.Sid), 256);
                    item["rights"] = problem.Rights;
                    shown.Add(item);
                }
            }
            catch (Exception exception)
            {
                record["error"] = Probe.Error(exception);
            }
            return record;
        }
    }

    // The scanner stopped by a run that never started it again. A stop is recorded on the host before
    // it happens (a private file in the host's state folder, naming the run and how to start the
    // scanner); the start that follows removes the record. Any later call, a probe included, that finds
    // a record whose run is gone starts the scanner and says so: a run killed between the stop and the
    // start never leaves scanning off for good, nor is the stopped service taken for an admin's choice.
    public static class StopRecord
    {
        private static string FileOf(IHost host, string store)
        {
            return Paths.Join(host.Info.StateDir, "service-stopped-" + Sha.Of(Encoding.UTF8.GetBytes(store)).Substring(0, 16) + ".json");
        }

        // Record the stop before it happens; why it could not be recorded, or null.
        public static string Write(IHost host, string store, IDictionary start)
        {
            string refused = host.Files.PrivateFolder(host.Info.StateDir, true);
            if (refused != null)
            {
                return refused;
            }
            Dictionary<string, object> record = new Dictionary<string, object>();
            record["pid"] = (long)host.Processes.CurrentId;
            record["started"] = host.Processes.StartToken(host.Processes.CurrentId);
            record["host"] = host.Processes.HostName;
            record["boot_id"] = host.Processes.BootId;
            record["created"] = host.Clock.Now;
            record["store"] = store;
            record["start"] = start;
            host.Files.WritePrivate(FileOf(host, store), new UTF8Encoding(false).GetBytes(Json.Write(record)));
            return null;
        }

        public static void Clear(IHost host, string store)
        {
            string path = FileOf(host, store);
            if (host.Files.Stat(path) != null)
            {
                host.Files.Delete(path);
            }
        }

        // Whether the run that wrote the record is gone (another boot, or its process ended).
        private static bool Gone(IHost host, IDictionary record)
        {
            // the state folder is this host's and private: a record without a readable owner, or from
            // before the host was renamed, belongs to no run that still lives
            if (!(Req.Get(record, "pid") is long) || (Req.Get(record, "host") as string) != host.Processes.HostName)
            {
                return true;
            }
            string theirs = Req.Get(record, "boot_id") as string;
            string ours = host.Processes.BootId;
            if (theirs != null && ours != null && theirs != ours)
            {
                return true;
            }
            // without boot IDs to compare (Windows has none), the boot time decides (the store lock's rule)
            object created = Req.Get(record, "created");
            bool compared = theirs != null && ours != null;
            if (!compared && host.Processes.BootTime > 0 && (created is double || created is long) && Convert.ToDouble(created, CultureInfo.InvariantCulture) < host.Processes.BootTime)
            {
                return true;
            }
            long pid = (long)record["pid"];
            return pid != host.Processes.CurrentId && (pid <= 0 || pid > int.MaxValue || !host.Processes.Alive((int)pid) || Pids.Reused(host, (int)pid, Req.Get(record, "started")));
        }

        // Start what runs that are gone left stopped; what was found and done, as warnings.
        public static List<string> Recover(IHost host, bool checkMode, HashSet<string> stores)
        {
            List<string> said = new List<string>();
            string folder = host.Info.StateDir;
            if (string.IsNullOrEmpty(folder) || host.Files.StatFollow(folder) == null || host.Files.PrivateFolder(folder, false) != null)
            {
                return said;
            }
            foreach (Entry entry in host.Files.List(folder))
            {
                if (!entry.Name.StartsWith("service-stopped-", StringComparison.Ordinal) || !entry.Name.EndsWith(".json", StringComparison.Ordinal) || entry.Kind != "file")
                {
                    continue;
                }
                string path = Paths.Join(folder, entry.Name);
                IDictionary record;
                try
                {
                    if (host.Files.PrivateFile(path) != null)
                    {
                        continue;
                    }
                    using (Stream stream = host.Files.OpenRead(path))
                    {
                        record = Json.Parse(new UTF8Encoding(false, true).GetString(Probe.ReadUpTo(stream, 65536))) as IDictionary;
                    }
                }
                catch (Exception)
                {
                    continue;
                }
                if (record == null || !Gone(host, record) || !(Req.Get(record, "start") is IDictionary))
                {
                    continue;
                }
                if (stores != null && !stores.Contains(Req.Get(record, "store") as string ?? ""))
                {
                    continue;
                }
                IDictionary start = (IDictionary)record["start"];
                string name = Req.Str(start, "service") ?? "the scanner";
                string by = "a run (process " + Convert.ToString(Req.Get(record, "pid"), CultureInfo.InvariantCulture) + ") that ended before it started it again";
                if (checkMode)
                {
                    said.Add(name + " was stopped by " + by + "; it is started by the next call that is not in check mode");
                    continue;
                }
                try
                {
                    host.Services.Act("start", start);
                    host.Files.Delete(path);
                    said.Add(name + " was stopped by " + by + "; it was started again now");
                }
                catch (Exception exception)
                {
                    said.Add(name + " was stopped by " + by + " and could not be started: " + Win32Error.InnerMessage(exception) + "; start it by hand (the next call tries again)");
                }
            }
            return said;
        }
    }

    // A process ID that was reused: the live process holding it is another start than the one a record (a
    // lock, a stop record) names in `started`. The POSIX agent's rule (store_lock.pid_reused).
    public static class Pids
    {
        public static bool Reused(IHost host, int pid, object started)
        {
            string theirs = started as string;
            if (theirs == null)
            {
                return false;
            }
            string now = host.Processes.StartToken(pid);
            return now != null && now != theirs;
        }
    }

    // The hash cache of one store, format 2 of the POSIX agent (plugins/module_utils/hashing.py):
    // path -> [size, mtime_ns, change_stamp, file_id, sha256, verified_at], one file per store named
    // after its path, kept only in a folder and file only the agent's user can write.
    public sealed class HashCache
    {
        public const long DefaultMaxAge = 7L * 24 * 3600;
        // the most of a cache file that is read (a store's entries take some hundred bytes per file)
        public const long MaxBytes = 64L * 1024 * 1024;
        private readonly IHost host;
        private readonly bool useCached;
        // the probe's flag, set once its caller gave up on it (Probe.Abandon), or null
        public Probe.Abandon Abandon;
        private readonly long maxAge;
        private readonly string folder;
        private readonly string file;
        private Dictionary<string, object> entries = new Dictionary<string, object>(StringComparer.Ordinal);
        private readonly Dictionary<string, object> seen = new Dictionary<string, object>(StringComparer.Ordinal);
        public readonly HashSet<string> Changed = new HashSet<string>(StringComparer.Ordinal);
        public string Error;
        public string Refused;
        private bool folderRefused;
        public long FilesHashed, BytesHashed, FilesCached, BytesCached;

        public HashCache(IHost host, string cacheDir, string storePath, bool useCached, long maxAge)
        {
            this.host = host;
            this.useCached = useCached && maxAge > 0;
            this.maxAge = maxAge;
            folder = string.IsNullOrEmpty(cacheDir) ? host.Info.DefaultCacheDir : cacheDir;
            string name = Sha.Of(Encoding.UTF8.GetBytes(Path.GetFullPath(storePath))).Substring(0, 32) + ".json";
            file = Paths.Join(folder, name);
            try
            {
                Load();
            }
            catch (Exception exception)
            {
                Error = "cache " + file + " unreadable, rebuilt: " + exception.Message;
            }
        }

        private void Load()
        {
            if (host.Files.StatFollow(folder) == null)
            {
                return;
            }
            Refused = host.Files.PrivateFolder(folder, false);
            if (Refused != null)
            {
                folderRefused = true;
                return;
            }
            if (host.Files.Stat(file) == null)
            {
                return;
            }
            Refused = host.Files.PrivateFile(file);
            if (Refused != null)
            {
                return;
            }
            byte[] data;
            using (Stream stream = host.Files.OpenRead(file))
            {
                data = Probe.ReadUpTo(stream, MaxBytes + 1);
            }
            if (data.Length > MaxBytes)
            {
                // a cache this large is no cache of one store: taken as absent, and rewritten by Save
                Error = "cache " + file + " is larger than " + MaxBytes.ToString(CultureInfo.InvariantCulture) + " bytes and was not read; it is rebuilt";
                return;
            }
            IDictionary loaded = Json.Parse(new UTF8Encoding(false, true).GetString(data)) as IDictionary;
            if (loaded != null && (Req.Get(loaded, "version") as long? ?? 0) == 2 && Req.Get(loaded, "entries") is Dictionary<string, object>)
            {
                entries = (Dictionary<string, object>)loaded["entries"];
            }
        }

        private bool WriterPresent(string path)
        {
            try
            {
                return host.Files.WriterPresent(path);
            }
            catch (IOException)
            {
                return true;
            }
            catch (UnauthorizedAccessException)
            {
                return true;
            }
        }

        private static List<object> Key(Entry entry)
        {
            return new List<object> { entry.Size, entry.MtimeNs, entry.Stamp, entry.FileId };
        }

        private static bool Same(List<object> key, IList cached)
        {
            for (int i = 0; i < 4; i++)
            {
                object a = key[i];
                object b = cached[i];
                if (a == null || b == null || !string.Equals(Convert.ToString(a, CultureInfo.InvariantCulture), Convert.ToString(b, CultureInfo.InvariantCulture), StringComparison.Ordinal))
                {
                    return false;
                }
                if ((a is string) != (b is string))
                {
                    return false;
                }
            }
            return true;
        }

        private bool Fresh(string path, object cached, List<object> key, long now)
        {
            IList list = cached as IList;
            if (list == null || list.Count != 6 || !(list[4] is string) || !(list[5] is long) || key[2] == null || key[3] == null)
            {
                return false;
            }
            if (!Same(key, list))
            {
                return false;
            }
            long verifiedAt = (long)list[5];
            return verifiedAt <= now && CacheExpiry.IsFresh(now, verifiedAt, maxAge, path);
        }

        // The file's SHA-256: from the cache when nothing about it changed and the entry is fresh, else
        // read. Null when it cannot be read, or when it changed while it was read (then in Changed).
        public string Digest(string path, Entry entry)
        {
            // the stamp read now, not the listing's (a listing need not read stamps: a handle per file on Windows)
            Entry now_ = host.Files.Stat(path);
            if (now_ == null || now_.Kind != "file")
            {
                return null;
            }
            entry = now_;
            List<object> key = Key(entry);
            long now = (long)host.Clock.Now;
            object cached;
            // The writer check runs where the file is read anyway, never on a hit. NTFS journals a USN at a handle's
            // first write, not at each, so a writer already holding a written handle may change the file without a
            // new stamp: a digest read while any handle held the file open for writing is not kept (below). A writer
            // that opens the file after that moves the USN at its first write, and the entry no longer matches. So a
            // hit opens nothing: the check's open (to read, not sharing write) has antivirus filters scan the file.
            if (useCached && entries.TryGetValue(path, out cached) && Fresh(path, cached, key, now))
            {
                FilesCached++;
                BytesCached += entry.Size;
                seen[path] = cached;
                return (string)((IList)cached)[4];
            }
            string value;
            long count;
            Entry after;
            try
            {
                using (Stream stream = host.Files.OpenRead(path))
                {
                    value = Sha.Stream(stream, out count);
                }
                after = host.Files.Stat(path);
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
            FilesHashed++;
            BytesHashed += count;
            if (after == null || count != entry.Size || !KeyEquals(Key(after), key))
            {
                Changed.Add(path);
                return null;
            }
            if (key[2] != null && key[3] != null && !WriterPresent(path))
            {
                List<object> record = new List<object>(key);
                record.Add(value);
                record.Add(now);
                seen[path] = record;
            }
            return value;
        }

        private static bool KeyEquals(List<object> a, List<object> b)
        {
            for (int i = 0; i < 4; i++)
            {
                if (!object.Equals(a[i], b[i]))
                {
                    return false;
                }
            }
            return true;
        }

        public void Save()
        {
            if (folderRefused)
            {
                return;
            }
            try
            {
                string why = host.Files.PrivateFolder(folder, true);
                if (why != null)
                {
                    Refused = why;
                    folderRefused = true;
                    return;
                }
                Dictionary<string, object> data = new Dictionary<string, object>();
                data["version"] = 2L;
                data["entries"] = seen;
                host.Files.WritePrivate(file, new UTF8Encoding(false).GetBytes(Json.Write(data)));
            }
            catch (Exception exception)
            {
                Error = "cache " + file + " not saved: " + exception.Message;
            }
        }
    }

    // The probe operation: every candidate store, the product and its events, in one call. It reports; the controller decides.
    public static class Probe
    {
        public const int MaxEntries = 4096;
        public const int MaxName = 260;
        public const int MaxPath = 1024;
        public const int MaxOmittedNames = 32;
        public const int MaxText = 2048;
        public const long MaxDefinfoHash = 16L << 20;
        private static readonly Regex Variable = new Regex("%([^%]+)%", RegexOptions.CultureInvariant);

        public static string Expand(string template, IHost host)
        {
            return Variable.Replace(template, delegate(Match match)
            {
                string value = host.Env(match.Groups[1].Value);
                return value ?? match.Value;
            });
        }

        // Set once the caller gave up on a probe at its deadline: the probe stops at its next file and writes no hash
        // cache, so that in a host process that lives on (PSRP keeps its runspace between tasks) a probe left
        // behind never reads or writes beside the next call.
        public sealed class Abandon
        {
            private volatile bool set;

            public bool IsSet
            {
                get { return set; }
            }

            public void Set()
            {
                set = true;
            }

            public void StopIfSet()
            {
                if (set)
                {
                    throw new OperationCanceledException("the probe was given up at its deadline");
                }
            }
        }

        // The probe, stopping at its next store or file once `abandon` is set (null: never).
        public static Dictionary<string, object> Run(IDictionary request, bool checkMode, IHost host, Abandon abandon)
        {
            IDictionary limits = Req.Need(request, "limits");
            List<object> stores = Req.List(request, "stores");
            Dictionary<string, object> env = new Dictionary<string, object>(StringComparer.Ordinal);
            foreach (object candidate in stores)
            {
                foreach (Match match in Variable.Matches(Req.NeedStr((IDictionary)candidate, "template")))
                {
                    env[match.Groups[1].Value] = host.Env(match.Groups[1].Value);
                }
            }
            List<string> names = new List<string>(env.Keys);
            names.Sort(StringComparer.Ordinal);
            Dictionary<string, object> sortedEnv = new Dictionary<string, object>(StringComparer.Ordinal);
            foreach (string name in names)
            {
                sortedEnv[name] = env[name];
            }
            HostInfo info = host.Info;
            Dictionary<string, object> hostRecord = new Dictionary<string, object>();
            hostRecord["os"] = info.Os;
            hostRecord["os_version"] = Text.Head(info.OsVersion, 128);
            hostRecord["arch"] = Text.Head(info.Arch, 64);
            hostRecord["hostname"] = Text.Head(info.HostName, 256);
            hostRecord["env"] = sortedEnv;
            IDictionary hashing = Req.Map(request, "hashing");
            List<object> storeRecords = new List<object>();
            foreach (object candidate in stores)
            {
                if (abandon != null)
                {
                    abandon.StopIfSet();
                }
                IDictionary store = (IDictionary)candidate;
                storeRecords.Add(Store(Req.NeedStr(store, "name"), Req.NeedStr(store, "template"), limits, hashing, checkMode, Req.Map(request, "privacy"), host, abandon));
            }
            long maxEvents = Req.NeedLong(limits, "max_events");
            string eventsError;
            List<object> events = host.Product.Events(request, (int)Math.Min(maxEvents, 10000), out eventsError);
            Dictionary<string, object> reply = new Dictionary<string, object>();
            reply["contract"] = (long)Agent.Contract;
            reply["op"] = "probe";
            Dictionary<string, object> agent = new Dictionary<string, object>();
            agent["name"] = Agent.Name;
            agent["runtime"] = Text.Head(string.IsNullOrEmpty(host.Runtime) ? "unknown" : host.Runtime, 128);
            reply["agent"] = agent;
            reply["host"] = hostRecord;
            reply["product"] = host.Product.Read(request);
            Dictionary<string, object> installed = host.Product.Installed();
            if (installed != null)
            {
                reply["installed"] = installed;
            }
            reply["stores"] = storeRecords;
            reply["events"] = events;
            reply["events_error"] = eventsError == null ? null : Wire.Message(eventsError, MaxText);
            return reply;
        }

        public static string Error(Exception exception)
        {
            Exception inner = exception;
            while (inner.InnerException != null)
            {
                inner = inner.InnerException;
            }
            return Wire.Message(inner.GetType().Name + ": " + inner.Message, MaxText);
        }

        private static Dictionary<string, object> EmptyDefinfo()
        {
            Dictionary<string, object> record = new Dictionary<string, object>();
            record["present"] = false;
            record["size"] = null;
            record["sha256"] = null;
            record["content_b64"] = null;
            return record;
        }

        public static Dictionary<string, object> Store(string name, string template, IDictionary limits, IDictionary hashing, bool checkMode, IDictionary privacy, IHost host)
        {
            return Store(name, template, limits, hashing, checkMode, privacy, host, null);
        }

        public static Dictionary<string, object> Store(string name, string template, IDictionary limits, IDictionary hashing, bool checkMode, IDictionary privacy, IHost host, Abandon abandon)
        {
            // one folder is one store whichever way it is written: PROGRA~3 is reported as ProgramData
            string path = host.Files.LongName(Expand(template, host));
            Dictionary<string, object> store = new Dictionary<string, object>();
            store["name"] = name;
            store["template"] = template;
            store["path"] = path;
            Entry own = null;
            Entry followed = null;
            string kind;
            string error = null;
            try
            {
                own = host.Files.Stat(path);
                followed = own == null ? null : (own.Kind == "link" ? host.Files.StatFollow(path) : own);
                kind = followed == null ? "missing" : followed.Kind;
            }
            catch (Exception exception)
            {
                kind = "unreadable";
                error = Error(exception);
            }
            store["exists"] = kind == "dir";
            store["kind"] = kind;
            store["error"] = error;
            store["free_bytes"] = null;
            store["definfo"] = EmptyDefinfo();
            store["dirs"] = new List<object>();
            store["files"] = new List<object>();
            if (own != null && own.Kind == "link")
            {
                store["link"] = true;
            }
            if (kind != "dir")
            {
                return store;
            }
            try
            {
                // two stores that are one folder through a link: the controller refuses them (store_overlap)
                store["real_path"] = Wire.Escape(host.Files.RealPath(path), 4096).Text;
            }
            catch (IOException)
            {
                store["real_path"] = null;  // unresolved: the controller compares the store by its path alone
            }
            Dictionary<string, object> private_ = host.Privacy(path, privacy);
            if (private_ != null)
            {
                store["privacy"] = private_;
                string parent = Paths.Parent(path);
                if (!string.IsNullOrEmpty(parent))
                {
                    store["quarantine_parent"] = host.Privacy(parent, privacy);
                }
            }
            HashCache cache = null;
            if (hashing != null)
            {
                cache = new HashCache(host, Req.Str(hashing, "cache_dir"), path, !Req.Bool(hashing, "deep", false), Req.Long(hashing, "max_age_seconds", HashCache.DefaultMaxAge));
                cache.Abandon = abandon;
            }
            try
            {
                store["free_bytes"] = host.Files.FreeBytes(path);
                store["definfo"] = Definfo(Paths.Join(path, "definfo.dat"), Req.NeedLong(limits, "max_definfo_bytes"), host);
                // usage.dat of a shared Hawking store, read like definfo.dat; sent only when present (the controller parses it)
                Dictionary<string, object> usage = Definfo(Paths.Join(path, "usage.dat"), Req.NeedLong(limits, "max_definfo_bytes"), host);
                if ((bool)usage["present"])
                {
                    store["usage"] = usage;
                }
                List<Entry> entries = new List<Entry>(host.Files.List(path));
                entries.Sort(delegate(Entry a, Entry b) { return Paths.Compare(a.Name, b.Name); });
                List<Entry> folders = new List<Entry>();
                List<Entry> files = new List<Entry>();
                foreach (Entry entry in entries)
                {
                    (entry.Kind == "dir" || (entry.Kind == "link" && entry.LinkToDir) ? folders : files).Add(entry);
                }
                string[] folderNames = new string[folders.Count];
                for (int i = 0; i < folders.Count; i++)
                {
                    folderNames[i] = folders[i].Name;
                }
                Bounded bounded = Listing.Bound(folderNames, MaxEntries);
                List<object> dirs = new List<object>();
                foreach (int index in bounded.Kept)
                {
                    dirs.Add(Folder(Paths.Join(path, folders[index].Name), folders[index], Req.NeedLong(limits, "max_files_per_dir"), cache, host));
                }
                store["dirs"] = dirs;
                List<object> fileRecords = new List<object>();
                for (int i = 0; i < Math.Min(files.Count, MaxEntries); i++)
                {
                    fileRecords.Add(FileRecord(files[i].Name, files[i], null, null));
                }
                store["files"] = fileRecords;
                if (bounded.Omitted.Length > 0 || files.Count > MaxEntries)
                {
                    List<object> omittedNames = new List<object>();
                    foreach (int index in bounded.Omitted)
                    {
                        if (omittedNames.Count >= MaxOmittedNames)
                        {
                            break;
                        }
                        omittedNames.Add(Wire.Escape(folders[index].Name, MaxName).Text);
                    }
                    Dictionary<string, object> omitted = new Dictionary<string, object>();
                    omitted["dirs"] = (long)bounded.Omitted.Length;
                    omitted["files"] = (long)Math.Max(0, files.Count - MaxEntries);
                    omitted["names"] = omittedNames;
                    store["omitted"] = omitted;
                }
            }
            catch (Exception exception)
            {
                store["error"] = Error(exception);
            }
            if (cache != null)
            {
                if (!checkMode && (abandon == null || !abandon.IsSet))
                {
                    cache.Save();
                }
                Dictionary<string, object> stats = new Dictionary<string, object>();
                stats["files_hashed"] = cache.FilesHashed;
                stats["bytes_hashed"] = cache.BytesHashed;
                stats["files_cached"] = cache.FilesCached;
                stats["bytes_cached"] = cache.BytesCached;
                stats["cache_error"] = cache.Error == null ? null : Wire.Message(cache.Error, MaxText);
                store["hash_stats"] = stats;
                if (cache.Refused != null)
                {
                    stats["cache_refused"] = Wire.Message(cache.Refused, MaxText);
                }
            }
            return store;
        }

        private static Dictionary<string, object> FileRecord(string rel, Entry entry, string full, HashCache cache)
        {
            if (cache != null && cache.Abandon != null)
            {
                cache.Abandon.StopIfSet();
            }
            Dictionary<string, object> record = new Dictionary<string, object>();
            WireName shown = Wire.Escape(rel, MaxPath);
            record["path"] = shown.Text;
            record["size"] = entry.Kind == "file" ? entry.Size : 0L;
            record["mtime"] = entry.Mtime;
            record["link"] = entry.Kind == "link";
            if (shown.Escaped)
            {
                record["escaped"] = true;
            }
            if (cache != null && full != null)
            {
                record["sha256"] = entry.Kind == "file" ? cache.Digest(full, entry) : null;
                if (cache.Changed.Contains(full))
                {
                    record["changed"] = true;
                }
            }
            return record;
        }

        private static Dictionary<string, object> Folder(string full, Entry entry, long maxFiles, HashCache cache, IHost host)
        {
            Dictionary<string, object> record = new Dictionary<string, object>();
            WireName shown = Wire.Escape(entry.Name, MaxName);
            record["name"] = shown.Text;
            bool link = entry.Kind == "link";
            record["link"] = link;
            record["mtime"] = entry.Mtime;
            record["files"] = new List<object>();
            record["truncated"] = false;
            if (shown.Escaped)
            {
                record["escaped"] = true;
            }
            if (link)
            {
                return record;
            }
            try
            {
                bool truncated;
                record["files"] = ListFiles(full, maxFiles, cache, host, out truncated);
                record["truncated"] = truncated;
            }
            catch (Exception exception)
            {
                record["error"] = Error(exception);
            }
            return record;
        }

        // Every file below `top` (links reported, never followed), '/' separated, in the POSIX agent's order.
        public static List<object> ListFiles(string top, long limit, HashCache cache, IHost host, out bool truncated)
        {
            List<object> found = new List<object>();
            List<string> pending = new List<string> { "" };
            truncated = false;
            while (pending.Count > 0)
            {
                string relDir = pending[pending.Count - 1];
                pending.RemoveAt(pending.Count - 1);
                string folder = relDir.Length == 0 ? top : Paths.JoinRelative(top, relDir);
                List<Entry> entries = new List<Entry>(host.Files.List(folder));
                entries.Sort(delegate(Entry a, Entry b) { return Paths.Compare(a.Name, b.Name); });
                foreach (Entry item in entries)
                {
                    string rel = relDir.Length == 0 ? item.Name : relDir + "/" + item.Name;
                    if (item.Kind == "dir")
                    {
                        pending.Add(rel);
                        continue;
                    }
                    if (found.Count >= limit)
                    {
                        truncated = true;
                        return found;
                    }
                    found.Add(FileRecord(rel, item, Paths.Join(folder, item.Name), cache));
                }
            }
            return found;
        }

        // definfo.dat as the reply carries it: a link is never followed, only a regular file is read.
        public static Dictionary<string, object> Definfo(string path, long maxBytes, IHost host)
        {
            Dictionary<string, object> record = EmptyDefinfo();
            Entry entry = host.Files.Stat(path);
            if (entry == null)
            {
                return record;
            }
            record["present"] = true;
            record["size"] = entry.Size;
            record["kind"] = entry.Kind;
            if (entry.Kind != "file" || entry.Size > MaxDefinfoHash)
            {
                return record;
            }
            byte[] head;
            string digest;
            long total;
            try
            {
                using (Stream stream = host.Files.OpenRead(path))
                {
                    head = ReadUpTo(stream, maxBytes + 1);
                    using (SHA256 sha = Sha.New())
                    {
                        sha.TransformBlock(head, 0, head.Length, null, 0);
                        total = head.Length;
                        if (head.Length > maxBytes)
                        {
                            byte[] buffer = new byte[1 << 20];
                            int read;
                            while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
                            {
                                sha.TransformBlock(buffer, 0, read, null, 0);
                                total += read;
                            }
                        }
                        sha.TransformFinalBlock(buffer0, 0, 0);
                        digest = Hashing.Hex(sha.Hash);
                    }
                }
            }
            catch (HostException exception)
            {
                if (exception.Code == Codes.FileNotFound)
                {
                    return EmptyDefinfo();
                }
                record["kind"] = "other";
                return record;
            }
            record["sha256"] = digest;
            if (head.Length > maxBytes)
            {
                return record;
            }
            record["size"] = (long)head.Length;
            record["content_b64"] = Convert.ToBase64String(head);
            return record;
        }

        private static readonly byte[] buffer0 = new byte[0];

        public static byte[] ReadUpTo(Stream stream, long count)
        {
            MemoryStream kept = new MemoryStream();
            byte[] buffer = new byte[65536];
            while (kept.Length < count)
            {
                int read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, count - kept.Length));
                if (read <= 0)
                {
                    break;
                }
                kept.Write(buffer, 0, read);
            }
            return kept.ToArray();
        }
    }
}
