// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The engine against a fault-injecting NTFS double: the managed host over real folders, with the
// failures only Windows produces injected where a step meets them (sharing violations, access
// denied, a read-only file, an antivirus filter that cleans a file just written, a scanner that
// holds a set open). Reads {"wire": {...}} from stdin; prints "ok <check>" or "FAIL <check>: why".

using System;
using System.Collections;
using System.Collections.Generic;
using System.ComponentModel;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine;
using SmsmseEngine = ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineApply;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineFetch;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineHost;
using WinErrors = ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineWin.WinErrors;
using ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy;
using OldRule = ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy.Privacy;

namespace EngineTests
{
    public sealed class FaultFiles : IFileSystem
    {
        private readonly IFileSystem inner;
        // Win32 codes a call fails with, consumed one per call (then the call works).
        public readonly Queue<int> MoveFaults = new Queue<int>();
        public readonly Queue<int> ReplaceFaults = new Queue<int>();
        public int MoveCalls;
        // an antivirus filter that cleans (truncates) every file written, once it is closed
        public bool FilterTruncates;
        // read-only files (Windows refuses to delete them)
        public readonly HashSet<string> ReadOnly = new HashSet<string>();

        // files another process holds open, until a time of the fake clock, and whether with FILE_SHARE_DELETE
        public readonly Dictionary<string, double> OpenUntil = new Dictionary<string, double>();
        public readonly HashSet<string> ShareDelete = new HashSet<string>();
        // files deleted while open with FILE_SHARE_DELETE: still there until the last handle closes
        public readonly HashSet<string> Pending = new HashSet<string>();
        public FakeClock Clock;

        public FaultFiles(IFileSystem inner)
        {
            this.inner = inner;
        }

        // handles whose time is up are closed; a delete-pending file goes with its last handle
        private void Tick()
        {
            foreach (string path in new List<string>(OpenUntil.Keys))
            {
                if (Clock != null && Clock.Now >= OpenUntil[path])
                {
                    OpenUntil.Remove(path);
                    if (Pending.Remove(path))
                    {
                        inner.Delete(path);
                    }
                }
            }
        }

        public bool OpenBelow(string folder)
        {
            Tick();
            foreach (string path in OpenUntil.Keys)
            {
                if (path.StartsWith(folder + "/", StringComparison.Ordinal))
                {
                    return true;
                }
            }
            return false;
        }

        // NTFS: names that differ only in case are one name
        public bool CaseInsensitive;

        private string Actual(string path)
        {
            if (!CaseInsensitive || inner.Stat(path) != null)
            {
                return path;
            }
            string parent = Path.GetDirectoryName(path);
            if (parent == null || inner.StatFollow(parent) == null)
            {
                return path;
            }
            foreach (Entry entry in inner.List(parent))
            {
                if (string.Equals(entry.Name, Path.GetFileName(path), StringComparison.OrdinalIgnoreCase))
                {
                    return Path.Combine(parent, entry.Name);
                }
            }
            return path;
        }

        public Entry Stat(string path)
        {
            Deny(path);
            path = Actual(path);
            Entry entry = inner.Stat(path);
            if (entry != null && ReadOnly.Contains(path))
            {
                entry.ReadOnly = true;
            }
            return entry;
        }

        // folders (a share) whose every entry the account cannot reach: the Win32 error each access fails with
        public readonly Dictionary<string, int> DeniedBelow = new Dictionary<string, int>();

        private void Deny(string path)
        {
            foreach (KeyValuePair<string, int> denied in DeniedBelow)
            {
                if (path == denied.Key || path.StartsWith(denied.Key + "/", StringComparison.Ordinal))
                {
                    throw WinErrors.Map(new Win32Exception(denied.Value), path);
                }
            }
        }

        public Entry StatFollow(string path) { Deny(path); return inner.StatFollow(path); }
        public IList<Entry> List(string folder)
        {
            IList<Entry> found = inner.List(folder);
            foreach (Entry entry in found)
            {
                entry.ReadOnly = ReadOnly.Contains(Paths.Join(folder, entry.Name));
            }
            return found;
        }
        public Stream OpenRead(string path) { Deny(path); if (BeforeRead != null) { BeforeRead(path); } return inner.OpenRead(path); }
        // called before each file is opened to read (a slow disk, a filter that takes its time)
        public Action<string> BeforeRead;

        // files this host has open for writing (FileShare.None, as WinFiles.CreateNew opens them)
        public readonly HashSet<string> Writing = new HashSet<string>();

        public Stream CreateNew(string path)
        {
            Stream stream = inner.CreateNew(path);
            Writing.Add(path);
            return new Cleaned(stream, path, FilterTruncates, delegate { Writing.Remove(path); });
        }

        private sealed class Cleaned : Stream
        {
            private readonly Stream inner;
            private readonly string path;
            private readonly bool truncates;
            private readonly Action closed;
            public Cleaned(Stream inner, string path, bool truncates, Action closed) { this.inner = inner; this.path = path; this.truncates = truncates; this.closed = closed; }
            public override bool CanRead { get { return false; } }
            public override bool CanSeek { get { return false; } }
            public override bool CanWrite { get { return true; } }
            public override long Length { get { return inner.Length; } }
            public override long Position { get { return inner.Position; } set { inner.Position = value; } }
            public override void Flush() { inner.Flush(); }
            public override int Read(byte[] buffer, int offset, int count) { throw new NotSupportedException(); }
            public override long Seek(long offset, SeekOrigin origin) { throw new NotSupportedException(); }
            public override void SetLength(long value) { inner.SetLength(value); }
            public override void Write(byte[] buffer, int offset, int count) { inner.Write(buffer, offset, count); }
            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    inner.Dispose();
                    closed();
                    if (truncates && path.EndsWith(".dat", StringComparison.Ordinal) && new FileInfo(path).Length > 1)
                    {
                        using (FileStream cut = new FileStream(path, FileMode.Open, FileAccess.Write))
                        {
                            cut.SetLength(1);
                        }
                    }
                }
                base.Dispose(disposing);
            }
        }

        public void ProbeWritable(string path) { inner.ProbeWritable(path); }
        public void CreateFolder(string path) { inner.CreateFolder(path); }

        public void Move(string from, string to)
        {
            MoveCalls++;
            Tick();
            if (MoveFaults.Count > 0)
            {
                throw WinErrors.Map(new Win32Exception(MoveFaults.Dequeue()), from);
            }
            if (CaseInsensitive && Actual(to) != to)
            {
                throw WinErrors.Map(new Win32Exception(Codes.AlreadyExists), to);
            }
            if (OpenUntil.ContainsKey(from) && !ShareDelete.Contains(from))
            {
                throw WinErrors.Map(new Win32Exception(32), from);
            }
            if (OpenBelow(from))
            {
                throw WinErrors.Map(new Win32Exception(Codes.AccessDenied), from);
            }
            inner.Move(from, to);
            if (AfterMove != null)
            {
                AfterMove(from, to);
            }
        }

        // what another process does right after a rename (the product's copy job pointing definfo.dat at a set)
        public Action<string, string> AfterMove;

        public void Replace(string replacement, string target)
        {
            if (ReplaceFaults.Count > 0)
            {
                int code = ReplaceFaults.Dequeue();
                if (code == 1177)
                {
                    // ERROR_UNABLE_TO_MOVE_REPLACEMENT_2: the target was moved away, the replacement not moved in
                    inner.Delete(target);
                }
                throw WinErrors.Map(new Win32Exception(code), target);
            }
            inner.Replace(replacement, target);
        }

        // paths whose delete is refused (access denied), by a part of their name
        public string DeleteDenied;

        public void Delete(string path)
        {
            Tick();
            if (DeleteDenied != null && path.Contains(DeleteDenied))
            {
                throw WinErrors.Map(new UnauthorizedAccessException("Access to the path is denied."), path);
            }
            if (OpenUntil.ContainsKey(path))
            {
                if (!ShareDelete.Contains(path))
                {
                    throw WinErrors.Map(new IOException("The process cannot access the file because it is being used by another process.", unchecked((int)0x80070020)), path);
                }
                Pending.Add(path);
                return;
            }
            if (ReadOnly.Contains(path))
            {
                throw WinErrors.Map(new UnauthorizedAccessException("Access to the path is denied."), path);
            }
            inner.Delete(path);
        }

        public void DeleteFolder(string path)
        {
            if (OpenBelow(path))
            {
                throw WinErrors.Map(new IOException("The directory is not empty.", unchecked((int)0x80070091)), path);
            }
            inner.DeleteFolder(path);
        }
        public void MakeWritable(string path) { ReadOnly.Remove(path); }
        public void CopyTimes(string source, string target)
        {
            // .NET Framework's File.SetLastWriteTimeUtc opens the file for writing: refused while a writer holds it
            if (Writing.Contains(target))
            {
                throw WinErrors.Map(new IOException("The process cannot access the file because it is being used by another process.", unchecked((int)0x80070020)), target);
            }
            inner.CopyTimes(source, target);
        }
        public long? FreeBytes(string path) { return inner.FreeBytes(path); }
        public string RealPath(string path) { return inner.RealPath(path); }
        public void Flush(string folder) { }
        public string PrivateFolder(string path, bool create) { return inner.PrivateFolder(path, create); }
        public string PrivateFile(string path) { return inner.PrivateFile(path); }
        public void WritePrivate(string path, byte[] data) { inner.WritePrivate(path, data); }
        // files another process holds open for writing (Windows: an open without FILE_SHARE_WRITE is refused)
        public readonly HashSet<string> Writers = new HashSet<string>();
        public int WriterChecks;
        public bool WriterPresent(string path) { WriterChecks++; return Writers.Contains(path) || inner.WriterPresent(path); }
        // 8.3 short names: short path -> long path, as GetLongPathName expands them
        public readonly Dictionary<string, string> ShortNames = new Dictionary<string, string>();
        public string LongName(string path) { string found; return ShortNames.TryGetValue(path, out found) ? found : inner.LongName(path); }
    }

    public sealed class FakeClock : IClock
    {
        public double Time = 1800000000;
        public double Slept;
        public double Now { get { return Time; } }
        // seconds the wall clock jumps at each sleep (an administrator or a time sync setting it)
        public double Jump;
        public void Sleep(int milliseconds) { Time += milliseconds / 1000.0 + Jump; Slept += milliseconds / 1000.0; }
    }

    public sealed class HeldServices : IServices
    {
        // the scanner lets go of the set after this many looks
        public int HeldFor;
        public int Looks;
        public FaultFiles Files;
        // the actions asked for, and a stop that ends as WinServices' does when the service is still StopPending at its time limit
        public readonly List<string> Actions = new List<string>();
        public bool StopTimesOut;
        // services that depend on the scanner and were running: WinServices' stop stops them and names them
        public string[] RunningDependents;
        public readonly List<string> StartedDependents = new List<string>();
        public Dictionary<string, object> Act(string action, IDictionary args)
        {
            Actions.Add(action);
            if (action == "stop" && StopTimesOut)
            {
                throw new Refusal("timeout", "SMSMSE did not stop within 1 s; it is StopPending", "SERVICE_TIMEOUT", null);
            }
            Dictionary<string, object> data = new Dictionary<string, object>();
            if (action == "stop" && RunningDependents != null)
            {
                data["stopped"] = true;
                data["dependents"] = new List<object>(RunningDependents);
            }
            if (action == "start")
            {
                List<string> names = new List<string>();
                foreach (object name in Req.List(args, "dependents"))
                {
                    names.Add((string)name);
                }
                StartedDependents.Add(string.Join(",", names.ToArray()));
            }
            return data;
        }
        public IList<string> Holders(string folder)
        {
            Looks++;
            bool held = Looks <= HeldFor || (Files != null && Files.OpenBelow(folder));
            return held ? new List<string> { "SMSMSE (service SMSMSE, pid 4242)" } : new List<string>();
        }
    }

    // Windows has no boot ID: a lock is judged by the boot time and the process ID (which a reboot reuses).
    public sealed class WindowsLikeProcesses : IProcesses
    {
        private readonly IProcesses inner;
        public double Boot;
        public bool EveryPidAlive;
        public string Started;

        public WindowsLikeProcesses(IProcesses inner)
        {
            this.inner = inner;
        }

        public int CurrentId { get { return inner.CurrentId; } }
        public string HostName { get { return inner.HostName; } }
        public string BootId { get { return null; } }
        public double BootTime { get { return Boot; } }
        public bool Alive(int pid) { return EveryPidAlive || inner.Alive(pid); }
        public string StartToken(int pid) { return Started ?? (EveryPidAlive ? null : inner.StartToken(pid)); }
        public SmsmseEngine.RunResult Run(string program, IList<string> arguments, int timeoutSeconds, int tailChars) { return inner.Run(program, arguments, timeoutSeconds, tailChars); }
        public string Which(string program) { return inner.Which(program); }
    }

    // A distribution point's server as the fetch step meets it: serves files by name, and can break the
    // connection after some bytes, end a body short of its declared length, or stall (each read takes
    // ten seconds of the fake clock).
    public sealed class FaultDownloads : IDownloads
    {
        public readonly Dictionary<string, byte[]> Files = new Dictionary<string, byte[]>();
        public string Mode = "plain";
        public FakeClock Clock;
        public readonly List<string> Asked = new List<string>();
        public int Aborted;

        public Download Get(string url, DownloadOptions options)
        {
            Asked.Add(url);
            string name = url.Substring(url.LastIndexOf('/') + 1);
            Download answer = new Download();
            answer.Abort = delegate { Aborted++; };
            byte[] data;
            if (!Files.TryGetValue(name, out data))
            {
                answer.Status = 404;
                answer.Reason = "Not Found";
                answer.Body = new MemoryStream(new byte[0]);
                return answer;
            }
            answer.Status = 200;
            answer.Reason = "OK";
            answer.Length = data.Length;
            answer.Body = new Faulty(data, Mode, Clock);
            return answer;
        }

        private sealed class Faulty : Stream
        {
            private readonly byte[] data;
            private readonly string mode;
            private readonly FakeClock clock;
            private int at;

            public Faulty(byte[] data, string mode, FakeClock clock) { this.data = data; this.mode = mode; this.clock = clock; }
            public override bool CanRead { get { return true; } }
            public override bool CanSeek { get { return false; } }
            public override bool CanWrite { get { return false; } }
            public override long Length { get { throw new NotSupportedException(); } }
            public override long Position { get { return at; } set { throw new NotSupportedException(); } }
            public override void Flush() { }
            public override long Seek(long offset, SeekOrigin origin) { throw new NotSupportedException(); }
            public override void SetLength(long value) { throw new NotSupportedException(); }
            public override void Write(byte[] buffer, int offset, int count) { throw new NotSupportedException(); }

            public override int Read(byte[] buffer, int offset, int count)
            {
                int end = mode == "short" || mode == "broken" ? data.Length / 2 : data.Length;
                if (at >= end)
                {
                    if (mode == "broken")
                    {
                        throw new IOException("Unable to read data from the transport connection: Connection reset by peer.");
                    }
                    return 0;
                }
                if (mode == "slow")
                {
                    clock.Time += 10;
                    count = 1;
                }
                int n = Math.Min(count, end - at);
                Array.Copy(data, at, buffer, offset, n);
                at += n;
                return n;
            }
        }
    }

    public sealed class FaultHost : IHost
    {
        private readonly IHost inner;
        public readonly FaultFiles Fs;
        public readonly FakeClock FakeClock = new FakeClock();
        public readonly HeldServices Held = new HeldServices();

        public FaultHost()
        {
            inner = Hosts.Managed("Mono test");
            Fs = new FaultFiles(inner.Files);
            Fs.Clock = FakeClock;
            Held.Files = Fs;
        }

        public HostInfo Windows_;
        public HostInfo Info { get { return Windows_ ?? inner.Info; } }
        public string Runtime { get { return inner.Runtime; } }
        public IFileSystem Files { get { return Fs; } }
        public WindowsLikeProcesses Windows;
        public IProcesses Processes { get { return Windows ?? inner.Processes; } }
        public IClock Clock { get { return FakeClock; } }
        public IProduct Product { get { return inner.Product; } }
        public IServices Services { get { return Held; } }
        public IDownloads Web;
        public IDownloads Downloads { get { return Web; } }
        public string Env(string name) { return null; }
        public Dictionary<string, object> Privacy(string path, IDictionary policy) { return null; }
    }

    public static class Program
    {
        private static IDictionary wire;
        private static int failed;
        private static string root;

        private static void Check(string name, bool ok, string why)
        {
            if (ok)
            {
                Console.WriteLine("ok " + name);
            }
            else
            {
                failed++;
                Console.WriteLine("FAIL " + name + ": " + why);
            }
        }

        private static string Sha(byte[] data)
        {
            using (SHA256 sha = SHA256.Create())
            {
                return BitConverter.ToString(sha.ComputeHash(data)).Replace("-", "").ToLowerInvariant();
            }
        }

        // A store with one set (two files and the marker); its manifest.
        private static Dictionary<string, object> MakeSet(string folder)
        {
            Directory.CreateDirectory(folder);
            Dictionary<string, object> manifest = new Dictionary<string, object>();
            foreach (string name in new string[] { "virscan1.dat", "naveng32.dll", "zdone.dat" })
            {
                byte[] data = Encoding.ASCII.GetBytes(name + " of " + Path.GetFileName(folder) + new string('x', 100));
                File.WriteAllBytes(Path.Combine(folder, name), data);
                Dictionary<string, object> entry = new Dictionary<string, object>();
                entry["size"] = (long)data.Length;
                entry["sha256"] = Sha(data);
                manifest[name] = entry;
            }
            return manifest;
        }

        private static Dictionary<string, object> Step(string op, string store, params object[] args)
        {
            Dictionary<string, object> step = new Dictionary<string, object>();
            step["op"] = op;
            step["store"] = store;
            step["required"] = true;
            step["always"] = false;
            step["commit"] = false;
            Dictionary<string, object> a = new Dictionary<string, object>();
            for (int i = 0; i + 1 < args.Length; i += 2)
            {
                a[(string)args[i]] = args[i + 1];
            }
            step["args"] = a;
            return step;
        }

        private static Dictionary<string, object> FetchStep(string store, string source, Dictionary<string, object> manifest)
        {
            return Step("fetch", store, "source", source, "name", ".smsmse-staging-20261125.003-f1", "manifest", manifest, "timeout_seconds", 10L, "deadline_seconds", 60L, "validate_certs", true, "ca_path", null);
        }

        private static List<object> Run(FaultHost host, params Dictionary<string, object>[] steps)
        {
            Dictionary<string, object> request = new Dictionary<string, object>();
            request["wire"] = wire;
            request["cache_dir"] = Path.Combine(root, "cache");
            request["steps"] = new List<object>(steps);
            return (List<object>)Apply.Steps(request, host)["steps"];
        }

        private static string Result(List<object> steps, int index)
        {
            IDictionary step = (IDictionary)steps[index];
            return step["result"] + (step["code"] == null ? "" : ":" + step["code"]);
        }

        private static string Fresh(string name)
        {
            string folder = Path.Combine(root, name);
            Directory.CreateDirectory(folder);
            return folder;
        }

        public static int Main(string[] args)
        {
            root = args[0];
            wire = (IDictionary)((IDictionary)Json.Parse(Console.In.ReadToEnd()))["wire"];

            // critical: an antivirus filter cleans the files just staged; stage reads them back and refuses
            {
                FaultHost host = new FaultHost();
                string hawking = Fresh("readback-hawking"), csapi = Fresh("readback-csapi");
                Dictionary<string, object> manifest = MakeSet(Path.Combine(hawking, "20261125.003"));
                host.Fs.FilterTruncates = true;
                List<object> steps = Run(host, Step("stage", csapi, "source", Path.Combine(hawking, "20261125.003"), "name", ".smsmse-staging-20261125.003-t1", "manifest", manifest));
                Check("stage_reads_back_what_landed", Result(steps, 0) == "failed:READ_BACK_MISMATCH", Result(steps, 0) + " " + ((IDictionary)steps[0])["message"]);
                Check("stage_leaves_no_half_set", !Directory.Exists(Path.Combine(csapi, ".smsmse-staging-20261125.003-t1")), "the staging folder is still there");
            }

            // fetch: a distribution point's server that breaks, cuts short or stalls; a share the account cannot read
            {
                string point = Fresh("fetch-point");
                Dictionary<string, object> manifest = MakeSet(Path.Combine(point, "20261125.003"));
                foreach (string mode in new string[] { "plain", "broken", "short", "slow" })
                {
                    FaultHost host = new FaultHost();
                    FaultDownloads web = new FaultDownloads();
                    web.Mode = mode;
                    web.Clock = host.FakeClock;
                    foreach (string file in Directory.GetFiles(Path.Combine(point, "20261125.003")))
                    {
                        web.Files[Path.GetFileName(file)] = File.ReadAllBytes(file);
                    }
                    host.Web = web;
                    string store = Fresh("fetch-" + mode);
                    List<object> steps = Run(host, FetchStep(store, "https://dp.example.com/smsmse/20261125.003", manifest));
                    string message = (string)((IDictionary)steps[0])["message"];
                    bool kept = Directory.GetFileSystemEntries(store).Length > 0;
                    if (mode == "plain")
                    {
                        Check("fetch_marker_comes_last", Result(steps, 0) == "done" && web.Asked.Count == 3 && web.Asked[2].EndsWith("/zdone.dat", StringComparison.Ordinal), Result(steps, 0) + " " + message + " " + string.Join(",", web.Asked.ToArray()));
                    }
                    else if (mode == "broken")
                    {
                        Check("fetch_over_a_broken_connection_keeps_nothing", Result(steps, 0) == "refused:SOURCE_UNREACHABLE" && !kept && message.Contains("dp.example.com"), Result(steps, 0) + " " + message + " kept: " + kept);
                    }
                    else if (mode == "short")
                    {
                        Check("fetch_of_a_short_body_is_truncated", Result(steps, 0) == "refused:SOURCE_MISMATCH" && !kept && message.Contains("truncated"), Result(steps, 0) + " " + message + " kept: " + kept);
                    }
                    else
                    {
                        Check("fetch_from_a_stalled_server_meets_the_deadline", Result(steps, 0) == "refused:SOURCE_TIMEOUT" && !kept && message.Contains("deadline_seconds") && host.FakeClock.Time - 1800000000 <= 70, Result(steps, 0) + " " + message + " kept: " + kept);
                    }
                }
                {
                    FaultHost host = new FaultHost();
                    string store = Fresh("fetch-denied");
                    host.Fs.DeniedBelow[point] = Codes.AccessDenied;
                    List<object> steps = Run(host, FetchStep(store, Path.Combine(point, "20261125.003"), manifest));
                    string message = (string)((IDictionary)steps[0])["message"];
                    Check("fetch_from_a_denied_share_names_the_second_hop", Result(steps, 0) == "refused:SOURCE_UNREACHABLE" && message.Contains("become") && message.Contains("delegation") && Directory.GetFileSystemEntries(store).Length == 0, Result(steps, 0) + " " + message);
                }
                {
                    FaultHost host = new FaultHost();
                    string store = Fresh("fetch-filtered");
                    host.Fs.FilterTruncates = true;
                    List<object> steps = Run(host, FetchStep(store, Path.Combine(point, "20261125.003"), manifest));
                    Check("fetch_reads_back_what_landed", Result(steps, 0) == "failed:READ_BACK_MISMATCH" && Directory.GetFileSystemEntries(store).Length == 0, Result(steps, 0) + " " + ((IDictionary)steps[0])["message"]);
                }
            }

            // fetch offers TLS 1.2 or later only: never SSL 3 (48), TLS 1.0 (192), TLS 1.1 (768) or the OS's defaults (0)
            {
                bool ok = true;
                foreach (int current in new int[] { 0, 48 | 192, 192 | 768 | 3072, 3072 | 12288, 12288 })
                {
                    int offered = WebDownloads.Protocols(current);
                    ok &= (offered & 3072) != 0 && (offered & (48 | 192 | 768)) == 0 && (offered & 12288) == (current & 12288);
                }
                Check("fetch_offers_tls_1_2_or_later_only", ok, "an older protocol is offered, or TLS 1.2 is not");
            }

            // high: .NET Framework sets a file's time by opening it for writing, refused while the stage's own writer is open
            {
                FaultHost host = new FaultHost();
                string hawking = Fresh("times-hawking"), csapi = Fresh("times-csapi");
                string source = Path.Combine(hawking, "20261125.003");
                Dictionary<string, object> manifest = MakeSet(source);
                DateTime old = new DateTime(2026, 11, 25, 3, 0, 0, DateTimeKind.Utc);
                foreach (string file in Directory.GetFiles(source))
                {
                    File.SetLastWriteTimeUtc(file, old);
                }
                List<object> steps = Run(host, Step("stage", csapi, "source", source, "name", ".smsmse-staging-20261125.003-t0", "manifest", manifest));
                string staged = Path.Combine(csapi, ".smsmse-staging-20261125.003-t0");
                bool times = Directory.Exists(staged) && Directory.GetFiles(staged).Length > 0;
                foreach (string file in times ? Directory.GetFiles(staged) : new string[0])
                {
                    times &= File.GetLastWriteTimeUtc(file) == old;
                }
                Check("stage_sets_times_after_the_writer_closes", Result(steps, 0) == "done" && times, Result(steps, 0) + " " + ((IDictionary)steps[0])["message"]);
            }

            // high: a stop that times out (the service still StopPending) keeps its record, and the start after it runs
            {
                FaultHost host = new FaultHost();
                string csapi = Fresh("stop-timeout-csapi");
                host.Held.StopTimesOut = true;
                Dictionary<string, object> start = Step("service", csapi, "action", "start", "service", "SMSMSE", "timeout", 1L, "only_if_stopped_here", true);
                start["always"] = true;
                List<object> steps = Run(host, Step("service", csapi, "action", "stop", "service", "SMSMSE", "timeout", 1L), start);
                Check("timed_out_stop_is_started_again", Result(steps, 0) == "timeout:SERVICE_TIMEOUT" && string.Join(",", host.Held.Actions.ToArray()) == "stop,start", Result(steps, 0) + " " + Result(steps, 1) + " " + string.Join(",", host.Held.Actions.ToArray()));
                FaultHost alone = new FaultHost();
                alone.Held.StopTimesOut = true;
                Run(alone, Step("service", Fresh("stop-timeout-alone"), "action", "stop", "service", "SMSMSE", "timeout", 1L));
                Check("timed_out_stop_is_started_at_the_end", string.Join(",", alone.Held.Actions.ToArray()) == "stop,start", string.Join(",", alone.Held.Actions.ToArray()));
            }

            // medium: the services stopped with the scanner (they depend on it) are started with it again
            {
                FaultHost host = new FaultHost();
                string csapi = Fresh("dependents-csapi");
                host.Held.RunningDependents = new string[] { "SMSMSEUI" };
                Dictionary<string, object> start = Step("service", csapi, "action", "start", "service", "SMSMSE", "timeout", 1L, "only_if_stopped_here", true);
                start["always"] = true;
                Run(host, Step("service", csapi, "action", "stop", "service", "SMSMSE", "timeout", 1L), start);
                Check("dependents_are_started_again", string.Join(";", host.Held.StartedDependents.ToArray()) == "SMSMSEUI", string.Join(";", host.Held.StartedDependents.ToArray()));
                FaultHost alone = new FaultHost();
                alone.Held.RunningDependents = new string[] { "SMSMSEUI" };
                Run(alone, Step("service", Fresh("dependents-alone"), "action", "stop", "service", "SMSMSE", "timeout", 1L));
                Check("dependents_are_started_at_the_end", string.Join(";", alone.Held.StartedDependents.ToArray()) == "SMSMSEUI", string.Join(";", alone.Held.StartedDependents.ToArray()));
            }

            // medium: MoveFileEx refuses another volume (Win32Exception 17): the quarantine copies the set, then removes it
            {
                FaultHost host = new FaultHost();
                string csapi = Fresh("volume-csapi"), quarantine = Fresh("volume-quarantine");
                MakeSet(Path.Combine(csapi, "20261125.003"));
                host.Fs.MoveFaults.Enqueue(Codes.NotSameDevice);
                List<object> steps = Run(host, Step("quarantine", csapi, "name", "20261125.003", "dest_dir", quarantine, "dest_name", "csapi-20261125.003-q2"));
                IDictionary data = (IDictionary)((IDictionary)steps[0])["data"];
                bool copied = Result(steps, 0) == "done" && data != null && true.Equals(data["copied"]);
                Check("quarantine_to_another_volume_copies", copied && Directory.Exists(Path.Combine(quarantine, "csapi-20261125.003-q2")) && !Directory.Exists(Path.Combine(csapi, "20261125.003")), Result(steps, 0) + " " + ((IDictionary)steps[0])["message"]);
            }

            // low: a start that worked is done even when its stop record cannot be removed (it warns)
            {
                FaultHost host = new FaultHost();
                string csapi = Fresh("record-csapi");
                Dictionary<string, object> start = Step("service", csapi, "action", "start", "service", "SMSMSE", "timeout", 1L, "only_if_stopped_here", true);
                start["always"] = true;
                host.Fs.DeleteDenied = "service-stopped-";
                Dictionary<string, object> request = new Dictionary<string, object>();
                request["wire"] = wire;
                request["cache_dir"] = Path.Combine(root, "cache");
                request["steps"] = new List<object> { Step("service", csapi, "action", "stop", "service", "SMSMSE", "timeout", 1L), start };
                Dictionary<string, object> reply = Apply.Steps(request, host);
                List<object> steps = (List<object>)reply["steps"];
                host.Fs.DeleteDenied = null;
                Run(host, Step("service", csapi, "action", "start", "service", "SMSMSE", "timeout", 1L));
                Check("started_with_a_record_left_is_done", Result(steps, 1) == "done" && Json.Write(reply).Contains("stop record"), Result(steps, 1) + " " + Json.Write(reply));
            }

            // medium: a sharing violation (the scanner, a filter) is retried within the budget, then the step is done
            {
                FaultHost host = new FaultHost();
                string csapi = Fresh("retry-csapi");
                MakeSet(Path.Combine(csapi, ".smsmse-staging-20261125.003-t2"));
                host.Fs.MoveFaults.Enqueue(32);
                host.Fs.MoveFaults.Enqueue(32);
                List<object> steps = Run(host, Step("rename", csapi, "from", ".smsmse-staging-20261125.003-t2", "to", "20261125.003"));
                Check("sharing_violation_is_retried", Result(steps, 0) == "done" && host.Fs.MoveCalls == 3, Result(steps, 0) + " after " + host.Fs.MoveCalls + " calls");
            }

            // medium: access denied is not "in use" and is not retried
            {
                FaultHost host = new FaultHost();
                string csapi = Fresh("denied-csapi");
                MakeSet(Path.Combine(csapi, ".smsmse-staging-20261125.003-t3"));
                host.Fs.MoveFaults.Enqueue(5);
                host.Fs.MoveFaults.Enqueue(5);
                List<object> steps = Run(host, Step("rename", csapi, "from", ".smsmse-staging-20261125.003-t3", "to", "20261125.003"));
                Check("access_denied_is_failed_not_in_use", Result(steps, 0) == "failed:ERROR_ACCESS_DENIED" && host.Fs.MoveCalls == 1, Result(steps, 0) + " after " + host.Fs.MoveCalls + " calls");
            }

            // medium: a set held longer than the budget: in_use, after the whole budget
            {
                FaultHost host = new FaultHost();
                string csapi = Fresh("held-csapi");
                MakeSet(Path.Combine(csapi, ".smsmse-staging-20261125.003-t4"));
                for (int i = 0; i < 1000; i++)
                {
                    host.Fs.MoveFaults.Enqueue(32);
                }
                List<object> steps = Run(host, Step("rename", csapi, "from", ".smsmse-staging-20261125.003-t4", "to", "20261125.003"));
                Check("held_set_is_in_use", Result(steps, 0) == "in_use:ERROR_SHARING_VIOLATION" && host.FakeClock.Slept >= Convert.ToDouble(((IDictionary)wire["limits"])["retry_seconds"]), Result(steps, 0) + " after " + host.FakeClock.Slept + " s");
            }

            // low: the call's deadline runs on a clock the wall clock's jumps do not move: the host's clock jumps an
            // hour at each retry of the first step, far past the call's deadline of 60 s, and the next step still runs
            {
                FaultHost host = new FaultHost();
                string csapi = Fresh("jump-csapi");
                MakeSet(Path.Combine(csapi, ".smsmse-staging-20261125.003-t6"));
                for (int i = 0; i < 1000; i++)
                {
                    host.Fs.MoveFaults.Enqueue(32);
                }
                host.FakeClock.Jump = 3600;
                Dictionary<string, object> held = Step("rename", csapi, "from", ".smsmse-staging-20261125.003-t6", "to", "20261125.003");
                held["required"] = false;
                Dictionary<string, object> request = new Dictionary<string, object>();
                request["wire"] = wire;
                request["cache_dir"] = Path.Combine(root, "cache");
                request["steps"] = new List<object> { held, Step("event", csapi, "events", new List<object>(), "events_file", null) };
                List<object> steps = (List<object>)Agent.Run("apply", request, false, host, 60)["steps"];
                Check("deadline_ignores_the_wall_clock", Result(steps, 0) == "in_use:ERROR_SHARING_VIOLATION" && Result(steps, 1) == "done", Result(steps, 0) + " " + Result(steps, 1));
            }

            // medium: write_pointer can say in_use (definfo.dat held by the scanner)
            {
                FaultHost host = new FaultHost();
                string csapi = Fresh("pointer-csapi");
                byte[] old = Encoding.ASCII.GetBytes("[DefDates]\r\nCurDefs=20261123.001\r\n");
                File.WriteAllBytes(Path.Combine(csapi, "definfo.dat"), old);
                for (int i = 0; i < 1000; i++)
                {
                    host.Fs.ReplaceFaults.Enqueue(32);
                }
                List<object> steps = Run(host, Step("write_pointer", csapi, "content_b64", Convert.ToBase64String(Encoding.ASCII.GetBytes("[DefDates]\r\nCurDefs=20261125.003\r\n")), "expect_sha256", Sha(old)));
                Check("write_pointer_says_in_use", Result(steps, 0) == "in_use:ERROR_SHARING_VIOLATION", Result(steps, 0));
                Check("write_pointer_leaves_the_old_pointer", File.ReadAllText(Path.Combine(csapi, "definfo.dat")).Contains("20261123.001"), "definfo.dat changed");
            }

            // medium: a read-only file at the top of a removal is made writable
            {
                FaultHost host = new FaultHost();
                string csapi = Fresh("readonly-csapi");
                File.WriteAllText(Path.Combine(csapi, "20261120.001"), "a file where a set should be");
                host.Fs.ReadOnly.Add(Path.Combine(csapi, "20261120.001"));
                List<object> steps = Run(host, Step("retire", csapi, "name", "20261120.001"));
                Check("read_only_top_is_removed", Result(steps, 0) == "done" && !File.Exists(Path.Combine(csapi, "20261120.001")), Result(steps, 0));
            }

            // high: the Restart Manager is asked again within the budget, not once
            {
                FaultHost host = new FaultHost();
                string csapi = Fresh("rm-csapi");
                MakeSet(Path.Combine(csapi, "20261123.001"));
                host.Held.HeldFor = 2;
                List<object> steps = Run(host, Step("preflight", csapi, "pointer_writable", false, "same_volume", new List<object>(), "free_bytes", 0L, "not_in_use", new List<object> { "20261123.001" }));
                Check("restart_manager_is_asked_again", Result(steps, 0) == "done" && host.Held.Looks == 3, Result(steps, 0) + " after " + host.Held.Looks + " looks");
                host.Held.HeldFor = 1000;
                host.Held.Looks = 0;
                steps = Run(host, Step("preflight", csapi, "pointer_writable", false, "same_volume", new List<object>(), "free_bytes", 0L, "not_in_use", new List<object> { "20261123.001" }));
                Check("held_set_refuses_preflight", Result(steps, 0) == "in_use:SET_IN_USE" && host.Held.Looks > 1, Result(steps, 0) + " after " + host.Held.Looks + " looks");
            }

            // medium: the budget grows with the size of the set a step moves (a real-time scan of a fresh set)
            {
                long small = Retry.BudgetSeconds(wire, 0);
                long large = Retry.BudgetSeconds(wire, 2L << 30);
                Check("budget_scales_with_size", large > small && small == Convert.ToInt64(((IDictionary)wire["limits"])["retry_seconds"]), small + " s, " + large + " s");
            }
            OpenFiles();
            CaseCollisions();
            PointerRaces();
            SpecialFiles();
            LockAcrossBoots();
            CacheWithAWriter();
            AbandonedProbe();
            ShortNameStore();
            StorePathsIgnoreCase();
            PointerMissing();
            PrivacyChecks();
            return failed == 0 ? 0 : 1;
        }

        // a folder rename refused while a file inside is open, delete-pending files, FILE_SHARE_DELETE
        private static void OpenFiles()
        {
            {
                FaultHost host = new FaultHost();
                string csapi = Fresh("open-retire");
                MakeSet(Path.Combine(csapi, "20261120.001"));
                string held = Path.Combine(csapi, "20261120.001", "virscan1.dat");
                host.Fs.OpenUntil[held] = host.FakeClock.Now + 3;
                host.Fs.ShareDelete.Add(held);
                List<object> steps = Run(host, Step("retire", csapi, "name", "20261120.001"));
                Check("folder_rename_waits_for_an_open_file", Result(steps, 0) == "done" && !Directory.Exists(Path.Combine(csapi, "20261120.001")), Result(steps, 0) + " " + ((IDictionary)steps[0])["message"]);
            }
            {
                FaultHost host = new FaultHost();
                string csapi = Fresh("open-held");
                MakeSet(Path.Combine(csapi, "20261120.001"));
                string held = Path.Combine(csapi, "20261120.001", "virscan1.dat");
                host.Fs.OpenUntil[held] = host.FakeClock.Now + 100000;
                host.Fs.ShareDelete.Add(held);
                List<object> steps = Run(host, Step("retire", csapi, "name", "20261120.001"));
                Check("folder_held_open_is_set_in_use", Result(steps, 0) == "in_use:SET_IN_USE" && Directory.Exists(Path.Combine(csapi, "20261120.001")), Result(steps, 0) + " " + ((IDictionary)steps[0])["message"]);
            }
            {
                FaultHost host = new FaultHost();
                string csapi = Fresh("open-denied");
                MakeSet(Path.Combine(csapi, "20261120.001"));
                host.Fs.MoveFaults.Enqueue(Codes.AccessDenied);
                List<object> steps = Run(host, Step("retire", csapi, "name", "20261120.001"));
                Check("folder_access_denied_with_no_holder_is_failed", Result(steps, 0) == "failed:ERROR_ACCESS_DENIED" && host.Fs.MoveCalls == 1, Result(steps, 0) + " after " + host.Fs.MoveCalls + " calls");
            }
            {
                FaultHost host = new FaultHost();
                string csapi = Fresh("pending-clean");
                MakeSet(Path.Combine(csapi, ".smsmse-staging-20261125.003-dead"));
                string held = Path.Combine(csapi, ".smsmse-staging-20261125.003-dead", "naveng32.dll");
                host.Fs.OpenUntil[held] = host.FakeClock.Now + 2;
                host.Fs.ShareDelete.Add(held);
                List<object> steps = Run(host, Step("clean", csapi));
                Check("clean_waits_for_a_delete_pending_file", Result(steps, 0) == "done" && !Directory.Exists(Path.Combine(csapi, ".smsmse-staging-20261125.003-dead")), Result(steps, 0) + " " + ((IDictionary)steps[0])["message"]);
            }
            {
                FaultHost host = new FaultHost();
                string csapi = Fresh("noshare-rename");
                File.WriteAllText(Path.Combine(csapi, ".smsmse-definfo-x.tmp"), "x");
                string held = Path.Combine(csapi, ".smsmse-definfo-x.tmp");
                host.Fs.OpenUntil[held] = host.FakeClock.Now + 100000;
                List<object> steps = Run(host, Step("clean", csapi));
                Check("file_open_without_share_delete_remains", Result(steps, 0) == "failed:LEFTOVERS_REMAIN", Result(steps, 0));
            }
        }

        // a lock taken before the host last started is broken on Windows too, though its process ID now
        // belongs to another process; a lock taken since is kept while its process lives
        // review 14: a writer that keeps its handle open is journalled once, at its first write; a file with a
        // writer present is read again, whatever its cache entry says
        // medium: a probe given up at its deadline stops at its next file and writes no hash cache, so that in a host
        // process that lives on (PSRP keeps its runspace between tasks) it never reads or writes beside the next call
        private static void AbandonedProbe()
        {
            FaultHost host = new FaultHost();
            string store = Fresh("abandoned-store");
            string set = Path.Combine(store, "20261125.003");
            Directory.CreateDirectory(set);
            for (int i = 0; i < 12; i++)
            {
                File.WriteAllText(Path.Combine(set, "virscan" + i + ".dat"), "file " + i);
            }
            string cacheDir = Fresh("abandoned-cache");
            int reads = 0;
            host.Fs.BeforeRead = delegate(string path) { System.Threading.Interlocked.Increment(ref reads); System.Threading.Thread.Sleep(400); };
            IDictionary request = (IDictionary)Json.Parse("{\"stores\": [{\"name\": \"csapi\", \"template\": " + Json.Write(store) + "}], \"product\": null, \"events_file\": null, \"event_ids\": [], \"event_hours\": 24, \"limits\": {\"max_files_per_dir\": 20000, \"max_definfo_bytes\": 65536, \"max_events\": 500}, \"hashing\": {\"deep\": false, \"cache_dir\": " + Json.Write(cacheDir) + "}, \"privacy\": null}");
            string outcome = "returned";
            try
            {
                Agent.Run("probe", request, false, host, 1);
            }
            catch (TimeoutException exception)
            {
                outcome = exception.Message;
            }
            int atDeadline = System.Threading.Volatile.Read(ref reads);
            System.Threading.Thread.Sleep(5000);  // the 12 files take 4.8 s: a probe left running would have read them all and saved
            int later = System.Threading.Volatile.Read(ref reads);
            Check("abandoned_probe_stops_and_writes_no_cache", outcome.Contains("deadline of 1 s") && later <= atDeadline + 1 && later < 12 && Directory.GetFiles(cacheDir).Length == 0, outcome + "; " + atDeadline + " files read at the deadline, " + later + " after; cache files: " + Directory.GetFiles(cacheDir).Length);
        }

        private static void CacheWithAWriter()
        {
            FaultHost host = new FaultHost();
            string store = Fresh("writer-store");
            string file = Path.Combine(store, "virscan1.dat");
            File.WriteAllText(file, "first");
            string cacheDir = Fresh("writer-cache");
            // a writer holds the file open when it is read: its digest is not kept (NTFS journals a USN at a handle's
            // first write only, so that writer could change the file again without a new stamp)
            host.Fs.Writers.Add(file);
            HashCache held = new HashCache(host, cacheDir, store, true, 3600);
            held.Digest(file, host.Files.Stat(file));
            held.Save();
            host.Fs.Writers.Clear();
            HashCache after = new HashCache(host, cacheDir, store, true, 3600);
            after.Digest(file, host.Files.Stat(file));
            after.Save();
            Check("cache_keeps_no_digest_read_while_a_writer_held_the_file", held.FilesHashed == 1 && after.FilesCached == 0 && after.FilesHashed == 1, after.FilesCached + " cached, " + after.FilesHashed + " hashed");
            // medium: a hit opens nothing (an open to read data, or one not sharing write, has antivirus filters scan the file)
            host.Fs.WriterChecks = 0;
            HashCache hit = new HashCache(host, cacheDir, store, true, 3600);
            string digest = hit.Digest(file, host.Files.Stat(file));
            Check("cache_hit_opens_no_file_for_a_writer_check", hit.FilesCached == 1 && hit.FilesHashed == 0 && host.Fs.WriterChecks == 0 && digest == SmsmseEngine.Sha.Of(Encoding.ASCII.GetBytes("first")), hit.FilesCached + " cached, " + host.Fs.WriterChecks + " writer checks");
            // a writer that opens the file later moves its stamp at its first write: the entry no longer matches
            host.Fs.Writers.Add(file);
            File.WriteAllText(file, "other");
            HashCache moved = new HashCache(host, cacheDir, store, true, 3600);
            string now = moved.Digest(file, host.Files.Stat(file));
            Check("cache_is_not_trusted_once_a_writer_wrote", moved.FilesCached == 0 && now == SmsmseEngine.Sha.Of(Encoding.ASCII.GetBytes("other")), moved.FilesCached + " cached");
        }

        // 8.3 short names: a store written PROGRA~3 is probed and reported under its long path
        private static void ShortNameStore()
        {
            FaultHost host = new FaultHost();
            string store = Fresh("ShortNameStore");
            MakeSet(Path.Combine(store, "20261125.003"));
            string shortPath = Path.Combine(root, "SHORTN~1");
            host.Fs.ShortNames[shortPath] = store;
            Dictionary<string, object> limits = new Dictionary<string, object>();
            limits["max_definfo_bytes"] = 65536L;
            limits["max_files_per_dir"] = 100L;
            Dictionary<string, object> probed = Probe.Store("csapi", shortPath, limits, null, false, null, host);
            Check("store_given_in_8_3_form_is_reported_long", (string)probed["path"] == store && (string)probed["template"] == shortPath && true.Equals(probed["exists"]) && ((List<object>)probed["dirs"]).Count == 1, Json.Write(probed));
        }

        private static void LockAcrossBoots()
        {
            FaultHost host = new FaultHost();
            host.Windows = new WindowsLikeProcesses(Hosts.Managed("Mono test").Processes);
            host.Windows.Boot = host.FakeClock.Now - 600;
            host.Windows.EveryPidAlive = true;
            string csapi = Fresh("boot-csapi");
            Dictionary<string, object> record = new Dictionary<string, object>();
            record["pid"] = 4242L;
            record["host"] = host.Processes.HostName;
            record["boot_id"] = null;
            record["created"] = host.FakeClock.Now - 3600;
            record["token"] = "old";
            File.WriteAllText(Path.Combine(csapi, ".smsmse-lock"), Json.Write(record));
            List<object> steps = Run(host, Step("lock", csapi, "stale_seconds", 900L), Step("unlock", csapi));
            Check("lock_from_before_the_boot_is_broken", Result(steps, 0) == "done", Result(steps, 0) + " " + ((IDictionary)steps[0])["message"]);
            record["created"] = host.FakeClock.Now - 60;
            File.WriteAllText(Path.Combine(csapi, ".smsmse-lock"), Json.Write(record));
            steps = Run(host, Step("lock", csapi, "stale_seconds", 900L));
            Check("lock_since_the_boot_of_a_live_process_is_kept", Result(steps, 0) == "locked", Result(steps, 0));
            // review 9: the process ID is alive but its process is another start than the lock names: reused
            record["started"] = "created:1";
            File.WriteAllText(Path.Combine(csapi, ".smsmse-lock"), Json.Write(record));
            host.Windows.Started = "created:1";
            steps = Run(host, Step("lock", csapi, "stale_seconds", 900L));
            bool sameStartKept = Result(steps, 0) == "locked";
            host.Windows.Started = "created:2";
            steps = Run(host, Step("lock", csapi, "stale_seconds", 900L), Step("unlock", csapi));
            Check("lock_whose_pid_was_reused_is_broken", sameStartKept && Result(steps, 0) == "done", sameStartKept + " " + Result(steps, 0) + " " + ((IDictionary)steps[0])["message"]);
            // ... and a stop record whose process ID was reused is a dead run's: the scanner is started again
            FaultHost stopped = new FaultHost();
            stopped.Windows = new WindowsLikeProcesses(Hosts.Managed("Mono test").Processes);
            stopped.Windows.EveryPidAlive = true;
            Dictionary<string, object> start = new Dictionary<string, object>();
            start["service"] = "SMSMSE";
            start["timeout"] = 1L;
            string refused = StopRecord.Write(stopped, csapi, start);
            string written = Directory.GetFiles(stopped.Info.StateDir, "service-stopped-*.json")[0];
            IDictionary stop = (IDictionary)Json.Parse(File.ReadAllText(written));
            stop["pid"] = 4242L;
            stop["started"] = "created:1";
            stopped.Windows.Started = "created:1";
            File.WriteAllText(written, Json.Write(stop));
            bool keptWhileAlive = StopRecord.Recover(stopped, false, null).Count == 0 && File.Exists(written);
            stopped.Windows.Started = "created:2";
            List<string> said = StopRecord.Recover(stopped, false, null);
            Check("stop_record_whose_pid_was_reused_is_recovered", refused == null && keptWhileAlive && said.Count == 1 && said[0].Contains("started again") && !File.Exists(written), (refused ?? "") + " " + keptWhileAlive + " " + string.Join("; ", said.ToArray()));
        }

        // ReplaceFile failed after it removed definfo.dat (1177): the new pointer is kept under its temporary
        // name and reported (POINTER_MISSING); clean keeps it while definfo.dat is missing
        private static void PointerMissing()
        {
            FaultHost host = new FaultHost();
            string csapi = Fresh("pointer-missing");
            byte[] old = Encoding.ASCII.GetBytes("[DefDates]\r\nCurDefs=20261123.001\r\n");
            File.WriteAllBytes(Path.Combine(csapi, "definfo.dat"), old);
            host.Fs.ReplaceFaults.Enqueue(1177);
            List<object> steps = Run(host, Step("write_pointer", csapi, "content_b64", Convert.ToBase64String(Encoding.ASCII.GetBytes("[DefDates]\r\nCurDefs=20261125.003\r\n")), "expect_sha256", Sha(old)));
            IDictionary data = (IDictionary)((IDictionary)steps[0])["data"];
            string temp = data.Contains("temp") ? (string)data["temp"] : "";
            Check("replace_failed_after_removal_keeps_the_new_pointer", Result(steps, 0) == "failed:POINTER_MISSING" && temp.Length > 0 && File.Exists(Path.Combine(csapi, temp)) && File.ReadAllText(Path.Combine(csapi, temp)).Contains("20261125.003"), Result(steps, 0) + " temp=" + temp);
            steps = Run(host, Step("clean", csapi));
            Check("clean_keeps_the_pointer_temp_while_definfo_is_missing", Result(steps, 0) == "failed:LEFTOVERS_REMAIN" && temp.Length > 0 && File.Exists(Path.Combine(csapi, temp)), Result(steps, 0));
        }

        // Windows: a store named in another case is the same store (its lock is released by the unlock)
        private static void StorePathsIgnoreCase()
        {
            FaultHost host = new FaultHost();
            HostInfo windows = new HostInfo();
            windows.Os = "windows";
            windows.StateDir = host.Info.StateDir;
            windows.DefaultCacheDir = host.Info.DefaultCacheDir;
            host.Windows_ = windows;
            string csapi = Fresh("case-store");
            Dictionary<string, object> request = new Dictionary<string, object>();
            request["wire"] = wire;
            request["cache_dir"] = null;
            request["steps"] = new List<object> { Step("lock", csapi, "stale_seconds", 900L), Step("unlock", csapi.ToUpperInvariant()) };
            Dictionary<string, object> reply = Apply.Steps(request, host);
            List<object> steps = (List<object>)reply["steps"];
            Check("store_path_case_is_ignored_on_windows", Result(steps, 1) == "done" && ((List<object>)reply["warnings"]).Count == 0 && !File.Exists(Path.Combine(csapi, ".smsmse-lock")), Result(steps, 1) + " " + Json.Write(reply["warnings"]));
        }

        // The product points definfo.dat at a set in the moment the step renames it away: the step reads the
        // pointer again after its rename, puts the set back under its name and ends conflict (issue 21).
        private static void PointerRaces()
        {
            foreach (string op in new string[] { "retire", "quarantine" })
            {
                FaultHost host = new FaultHost();
                string store = Fresh(op + "-race-store");
                string quarantine = Fresh(op + "-race-quarantine");
                MakeSet(Path.Combine(store, "20261123.001"));
                MakeSet(Path.Combine(store, "20261125.003"));
                File.WriteAllText(Path.Combine(store, "definfo.dat"), "[DefDates]\r\nCurDefs=20261125.003\r\n");
                string moved = Path.Combine(store, "20261123.001");
                host.Fs.AfterMove = delegate(string from, string to)
                {
                    if (from == moved)
                    {
                        File.WriteAllText(Path.Combine(store, "definfo.dat"), "[DefDates]\r\nCurDefs=20261123.001\r\nLastDefs=20261125.003\r\n");
                    }
                };
                List<object> steps = op == "retire"
                    ? Run(host, Step("retire", store, "name", "20261123.001"))
                    : Run(host, Step("quarantine", store, "name", "20261123.001", "dest_dir", quarantine, "dest_name", "csapi-20261123.001-q1"));
                bool whole = Directory.Exists(moved) && File.Exists(Path.Combine(moved, "zdone.dat"));
                int elsewhere = Directory.GetFileSystemEntries(store, ".smsmse-*").Length + Directory.GetFileSystemEntries(quarantine).Length;
                string message = Convert.ToString(((IDictionary)steps[0])["message"]);
                Check(op + "_puts_back_a_set_the_pointer_names_meanwhile", Result(steps, 0) == "conflict" && whole && elsewhere == 0 && message.Contains("was put back"), Result(steps, 0) + " " + message + " whole=" + whole + " elsewhere=" + elsewhere);
            }
        }

        // The managed host opens a file without blocking and checks the descriptor: a FIFO (as if swapped in after
        // the stat that found a file) is refused at once, for reading and for the write probe, access denied.
        private static void SpecialFiles()
        {
            string folder = Fresh("special");
            string fifo = Path.Combine(folder, "definfo.dat");
            System.Diagnostics.Process made = System.Diagnostics.Process.Start("mkfifo", fifo);
            made.WaitForExit();
            FaultHost host = new FaultHost();
            foreach (string how in new string[] { "read", "write" })
            {
                DateTime started = DateTime.UtcNow;
                string got = "opened";
                System.Threading.Thread opener = new System.Threading.Thread(delegate()
                {
                    try
                    {
                        if (how == "read")
                        {
                            host.Fs.OpenRead(fifo).Dispose();
                        }
                        else
                        {
                            host.Fs.ProbeWritable(fifo);
                        }
                    }
                    catch (HostException exception)
                    {
                        got = "refused:" + exception.Code + ":" + exception.Message;
                    }
                });
                opener.IsBackground = true;
                opener.Start();
                bool ended = opener.Join(5000);
                Check("fifo_" + how + "_is_refused_at_once", ended && got.StartsWith("refused:5:", StringComparison.Ordinal) && got.Contains("FIFO"), (ended ? got : "still blocked after 5 s") + " in " + (DateTime.UtcNow - started).TotalSeconds + " s");
            }
        }

        // names that collide without case: a quarantine destination, a rename target
        private static void CaseCollisions()
        {
            {
                FaultHost host = new FaultHost();
                host.Fs.CaseInsensitive = true;
                string csapi = Fresh("case-csapi");
                string quarantine = Fresh("case-quarantine");
                MakeSet(Path.Combine(csapi, "20261125.003"));
                Directory.CreateDirectory(Path.Combine(quarantine, "csapi-20261125.003-q1"));
                List<object> steps = Run(host, Step("quarantine", csapi, "name", "20261125.003", "dest_dir", quarantine, "dest_name", "CSAPI-20261125.003-Q1"));
                Check("quarantine_onto_a_name_differing_in_case_is_a_conflict", Result(steps, 0) == "conflict" && Directory.Exists(Path.Combine(csapi, "20261125.003")), Result(steps, 0));
            }
            {
                FaultHost host = new FaultHost();
                host.Fs.CaseInsensitive = true;
                string csapi = Fresh("case-rename");
                MakeSet(Path.Combine(csapi, ".smsmse-staging-x"));
                Directory.CreateDirectory(Path.Combine(csapi, "Definfo.dat"));
                List<object> steps = Run(host, Step("write_pointer", csapi, "content_b64", "eA==", "expect_sha256", null));
                Check("pointer_named_in_another_case_is_seen", Result(steps, 0) == "conflict", Result(steps, 0) + " " + ((IDictionary)steps[0])["message"]);
            }
        }

        private static LevelInfo Level(string path, string owner, params object[] aces)
        {
            LevelInfo level = new LevelInfo();
            level.Path = path;
            level.Exists = true;
            level.OwnerSid = owner;
            for (int i = 0; i + 2 < aces.Length + 1 && i + 1 < aces.Length; i += 3)
            {
                AceInfo ace = new AceInfo();
                ace.Sid = (string)aces[i];
                ace.Mask = (int)aces[i + 1];
                ace.InheritOnly = (bool)aces[i + 2];
                ace.Allow = true;
                level.Aces.Add(ace);
            }
            return level;
        }

        // high: a store secured as the installer secures it (Users may read, owned by the admin who ran the
        // installer) is private under the default policy; what the old rule refused. Review 12: a store that
        // inherits %ProgramData%'s "Users may create files and folders" is not: any local user could add a
        // newer YYYYMMDD.RRR folder (or a junction, or a file inside a set) that structure alone calls good.
        private static void PrivacyChecks()
        {
            const string Admin = "S-1-5-21-1-2-3-500";
            const string Users = "S-1-5-32-545";
            const int ReadExecute = 0x1200a9;
            const int CreateFilesFolders = 0x2 | 0x4;
            const string Store = @"C:\ProgramData\Symantec\Definitions\VirusDefs";
            List<LevelInfo> installer = new List<LevelInfo>
            {
                Level(@"C:\", "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464", Users, ReadExecute, false, Users, CreateFilesFolders, false),
                Level(@"C:\ProgramData", "S-1-5-18", Users, ReadExecute, false, Users, CreateFilesFolders, false),
                Level(@"C:\ProgramData\Symantec", Admin, Users, ReadExecute, false, Users, CreateFilesFolders, false),
                Level(Store, Admin, Users, ReadExecute, false),
            };
            List<LevelInfo> inheriting = new List<LevelInfo>(installer);
            inheriting[3] = Level(Store, Admin, Users, ReadExecute, false, Users, CreateFilesFolders, false);
            Func<string, bool> admins = delegate(string sid) { return sid == Admin; };
            HashSet<string> trusted = OldRule.Trusted(null);
            Check("privacy_old_rule_refused_an_ordinary_server", OldRule.Problems(installer, trusted).Count > 0, "the old rule accepts it");
            List<PrivacyProblem> found = new PrivacyPolicy().Problems(installer, admins);
            Check("privacy_default_accepts_an_installer_secured_store", found.Count == 0, found.Count + " problems: " + (found.Count > 0 ? found[0].Path + " " + found[0].Kind + " " + found[0].Sid : ""));
            found = new PrivacyPolicy().Problems(inheriting, admins);
            Check("privacy_default_refuses_create_rights_in_the_store", found.Count == 1 && found[0].Kind == "writer" && found[0].Sid == Users && found[0].Path == Store, found.Count + " problems");
            List<LevelInfo> modifiable = new List<LevelInfo>(installer);
            modifiable[3] = Level(Store, Admin, Users, 0x1301bf, false);
            found = new PrivacyPolicy().Problems(modifiable, admins);
            Check("privacy_default_refuses_users_modify", found.Count == 1 && found[0].Kind == "writer" && found[0].Sid == Users, found.Count + " problems");
            found = new PrivacyPolicy().Problems(installer, delegate(string sid) { return false; });
            Check("privacy_owner_not_an_admin_is_refused", found.Count == 2 && found[0].Kind == "owner", found.Count + " problems");
            Dictionary<string, object> strict = new Dictionary<string, object>();
            strict["owner_admins"] = false;
            found = PrivacyPolicy.From(strict).Problems(installer, admins);
            Dictionary<string, object> lenient = new Dictionary<string, object>();
            lenient["creators"] = new List<object> { Users };
            List<PrivacyProblem> allowed = PrivacyPolicy.From(lenient).Problems(inheriting, admins);
            Check("privacy_policy_from_the_request_is_applied", found.Count > 0 && allowed.Count == 0, "owner_admins false accepts an admin's store, or creators named in the request are refused");
            Dictionary<string, object> bad = new Dictionary<string, object>();
            bad["writers"] = new List<object> { "Everyone" };
            bool refused = false;
            try
            {
                PrivacyPolicy.From(bad);
            }
            catch (ArgumentException)
            {
                refused = true;
            }
            Check("privacy_policy_names_a_bad_sid", refused, "a name that is not a SID was taken");
            List<LevelInfo> junction = new List<LevelInfo>(installer);
            junction[2].Reparse = true;
            found = new PrivacyPolicy().Problems(junction, admins);
            Check("privacy_junction_above_is_refused", found.Count == 1 && found[0].Kind == "reparse", found.Count + " problems");
        }
    }
}
