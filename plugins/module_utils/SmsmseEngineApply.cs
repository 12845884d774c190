// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineFetch
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineReadBack
//
// The engine's changing operations: apply (the primitive steps of docs/changes.md, in order,
// each reported) and run_liveupdate. The rules are the POSIX agent's (plugins/module_utils/
// apply.py, primitives.py, set_removal.py, store_lock.py, notify.py); both agents pass the
// shared case table tests/contract/apply_cases.yml. Links are never followed; a set is
// never deleted before a verified copy exists elsewhere; nothing here decides what a reply means.

using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineFetch;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineReadBack;
using ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy;

namespace ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineApply
{
    // What the steps of one request share.
    public sealed class Context
    {
        public readonly IHost Host;
        public readonly IFileSystem Fs;
        public readonly IDictionary Wire;
        public readonly string CacheDir;
        public readonly Dictionary<string, StoreLock> Locks;
        public readonly List<string> Warnings = new List<string>();
        public readonly HashSet<string> Stopped;

        public IDictionary Privacy;
        // the request's steps and the one running: a stop looks ahead for the start that follows it
        public List<object> StepList = new List<object>();
        public int Index;
        // store -> the start a stop of this request recorded (started again at the end when no start ran)
        public readonly Dictionary<string, IDictionary> StartFor;

        public Context(IHost host, IDictionary wire, string cacheDir)
        {
            Host = host;
            Fs = host.Files;
            Wire = wire;
            CacheDir = cacheDir;
            // store paths name the same folder in any case on Windows (the lock of C:\Defs is that of c:\defs)
            StringComparer paths = host.Info.Os == "windows" ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;
            Locks = new Dictionary<string, StoreLock>(paths);
            Stopped = new HashSet<string>(paths);
            StartFor = new Dictionary<string, IDictionary>(paths);
            Staged = new Dictionary<string, long>(paths);
        }

        public string W(string name)
        {
            return Req.NeedStr(Wire, name);
        }

        public long Limit(string name)
        {
            return Req.NeedLong(Req.Need(Wire, "limits"), name);
        }

        public string Definfo(string store)
        {
            return Paths.Join(store, W("definfo"));
        }

        public string TempName()
        {
            return W("definfo_temp_prefix") + Guid.NewGuid().ToString("N") + ".tmp";
        }

        // bytes of each folder stage wrote in this request: what a scan reads before it lets go
        public readonly Dictionary<string, long> Staged;

        public long Budget(string path)
        {
            long bytes;
            Staged.TryGetValue(path, out bytes);
            return Retry.BudgetSeconds(Wire, bytes);
        }

        // Rename within the retry budget. Windows refuses to rename a folder while a file inside is
        // open, with access denied: then the Restart Manager says whether someone holds it (in use,
        // retried, SET_IN_USE when the budget ends) or not (a permission: failed at once).
        public void Move(string from, string to)
        {
            IList<string> holders = null;
            long budget = Math.Max(Budget(from), Budget(to));
            try
            {
                Retry.Run(this, budget, delegate
                {
                    try
                    {
                        Fs.Move(from, to);
                    }
                    catch (HostException exception)
                    {
                        Entry entry;
                        if (exception.Code != Codes.AccessDenied || (entry = Fs.Stat(from)) == null || entry.Kind != "dir")
                        {
                            throw;
                        }
                        holders = Host.Services.Holders(from);
                        if (holders.Count == 0)
                        {
                            throw;
                        }
                        throw new HostException(Codes.SharingViolation, "files below the folder are open: " + string.Join(", ", new List<string>(holders).ToArray()), from);
                    }
                });
            }
            catch (HostException exception)
            {
                if (holders == null || holders.Count == 0 || exception.Code != Codes.SharingViolation)
                {
                    throw;
                }
                List<object> named = new List<object>();
                foreach (string holder in holders)
                {
                    named.Add(holder);
                }
                Dictionary<string, object> data = new Dictionary<string, object>();
                data["holders"] = named;
                throw new Refusal("in_use", from + " cannot be renamed: files below it are held open by " + string.Join(", ", new List<string>(holders).ToArray()) + " (retried for " + budget.ToString(CultureInfo.InvariantCulture) + " s)", "SET_IN_USE", data);
            }
            long bytes;
            if (Staged.TryGetValue(from, out bytes))
            {
                Staged.Remove(from);
                Staged[to] = bytes;
            }
        }

        public static string Token()
        {
            return Guid.NewGuid().ToString("N").Substring(0, 8);
        }
    }

    // Antivirus filters, the search indexer and the scanner open files for a moment: a rename or
    // delete in that moment fails with a sharing or lock violation, "directory not empty" or a
    // delete pending. Those are retried, with growing pauses, within a budget that grows with the
    // bytes a real-time scan must read first (a freshly staged set). Access denied is a permission,
    // not a moment: never retried, never "in use".
    public static class Retry
    {
        private static readonly int[] Transient = { 32, 33, 145, 303 };
        // what a real-time scanner reads per second of the budget
        public const long ScanBytesPerSecond = 32L << 20;

        public static long BudgetSeconds(IDictionary wire, long bytes)
        {
            return Req.NeedLong(Req.Need(wire, "limits"), "retry_seconds") + Math.Max(0, bytes) / ScanBytesPerSecond;
        }

        public static bool IsTransient(Exception exception)
        {
            return Array.IndexOf(Transient, Codes.Of(exception)) >= 0;
        }

        public static void Run(Context ctx, long seconds, Action action)
        {
            double deadline = ctx.Host.Clock.Now + seconds;
            int pause = 100;
            while (true)
            {
                try
                {
                    action();
                    return;
                }
                catch (Exception exception)
                {
                    if (exception is Refusal || !IsTransient(exception) || ctx.Host.Clock.Now >= deadline)
                    {
                        throw;
                    }
                }
                ctx.Host.Clock.Sleep(pause);
                pause = Math.Min(pause * 2, 2000);
            }
        }
    }

    public static class Apply
    {
        // run_liveupdate is one step, bounded by its own timeout: the deadline only stops an apply between steps.
        public static Dictionary<string, object> Run(string op, IDictionary request, IHost host, IDeadline deadline)
        {
            Dictionary<string, object> reply = op == "apply" ? Steps(request, host, deadline) : LiveUpdate.Run(request, host);
            Dictionary<string, object> full = new Dictionary<string, object>();
            full["contract"] = (long)Agent.Contract;
            full["op"] = op;
            foreach (KeyValuePair<string, object> item in reply)
            {
                full[item.Key] = item.Value;
            }
            return full;
        }

        private static string Cut(string text, long limit)
        {
            return Text.Head(text ?? "", (int)limit);
        }

        private static Dictionary<string, object> Report(string op, string result, string code, string message, Dictionary<string, object> data, long limit)
        {
            Dictionary<string, object> report = new Dictionary<string, object>();
            report["op"] = op;
            report["result"] = result;
            report["code"] = code;
            report["message"] = Wire.Message(Cut(message, limit), (int)limit);
            report["data"] = data ?? new Dictionary<string, object>();
            return report;
        }

        public static Dictionary<string, object> Steps(IDictionary request, IHost host)
        {
            return Steps(request, host, null);
        }

        // "stop" or "start" for a service step, else null: the ends of a store's stop-to-start unit (apply.py's service_action)
        public static string ServiceAction(IDictionary step, string op)
        {
            IDictionary args = step == null || op != "service" ? null : Req.Get(step, "args") as IDictionary;
            string action = args == null ? null : Req.Get(args, "action") as string;
            return action == "stop" || action == "start" ? action : null;
        }

        // A request of more steps than the wire's max_steps is refused whole, before any step runs.
        public static List<object> StepsWithin(IDictionary request, long maxSteps)
        {
            List<object> steps = Req.List(request, "steps");
            if (steps.Count > maxSteps)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "the apply request holds {0} steps, more than the {1} one request may carry (max_steps): no step was run; split the change into smaller requests", steps.Count, maxSteps));
            }
            return steps;
        }

        public static Dictionary<string, object> Steps(IDictionary request, IHost host, IDeadline deadline)
        {
            Context ctx = new Context(host, Req.Need(request, "wire"), Req.Str(request, "cache_dir"));
            ctx.Privacy = Req.Map(request, "privacy");
            long limit = ctx.Limit("max_message");
            List<object> steps = StepsWithin(request, ctx.Limit("max_steps"));
            List<object> reports = new List<object>();
            string blocked = null;
            bool opened = false, blockedInGroup = false;
            ctx.StepList = steps;
            // stores whose stop step ran and whose start step has not come yet
            HashSet<string> units = new HashSet<string>(StringComparer.Ordinal);
            for (int index = 0; index < steps.Count; index++)
            {
                ctx.Index = index;
                // asked before every step; the steps from a stop to its start run whatever it says
                bool late = deadline != null && deadline.Passed;
                IDictionary step = steps[index] as IDictionary;
                string op = step == null ? "" : Convert.ToString(Req.Get(step, "op"), CultureInfo.InvariantCulture) ?? "";
                string store = step == null ? "" : Convert.ToString(Req.Get(step, "store"), CultureInfo.InvariantCulture) ?? "";
                string action = ServiceAction(step, op);
                bool inUnit = units.Contains(store);
                if (action == "start")
                {
                    units.Remove(store);  // the start ends its store's unit, whatever becomes of it
                }
                if (op == "lock")
                {
                    blocked = blockedInGroup ? null : blocked;
                    opened = true;
                }
                bool always = step != null && Req.Get(step, "always") is bool && (bool)step["always"];
                if (blocked != null && !always)
                {
                    reports.Add(Report(Text.Head(op, 64), "skipped", null, "skipped: " + blocked, null, limit));
                    continue;
                }
                if (late && !always && !inUnit)
                {
                    reports.Add(Report(Text.Head(op, 64), "skipped", null, "skipped: " + deadline.Why, null, limit));
                    continue;
                }
                Dictionary<string, object> report = RunStep(ctx, step, op, limit);
                reports.Add(report);
                if (action == "stop")
                {
                    units.Add(store);  // whatever it ended: the scanner may be stopping until the start runs
                }
                bool required = step != null && Req.Get(step, "required") is bool && (bool)step["required"];
                if (required && (string)report["result"] != "done" && blocked == null)
                {
                    blocked = string.Format(CultureInfo.InvariantCulture, "the required step {0} ({1} in {2}) ended {3}", index, op, Req.Get(step, "store"), report["result"]);
                    if (((string)report["message"]).Length > 0)
                    {
                        blocked += ": " + report["message"];
                    }
                    blockedInGroup = opened;
                }
            }
            foreach (string store in new List<string>(ctx.Stopped))
            {
                // a request that stopped the scanner and ran no start for it: started again here
                try
                {
                    host.Services.Act("start", ctx.StartFor[store]);
                    StopRecord.Clear(host, store);
                    ctx.Warnings.Add("the scanner was stopped by this request and started again at its end (no start step ran)");
                }
                catch (Exception exception)
                {
                    ctx.Warnings.Add("the scanner was stopped by this request and could not be started again: " + Win32Error.InnerMessage(exception));
                }
            }
            foreach (KeyValuePair<string, StoreLock> held in new List<KeyValuePair<string, StoreLock>>(ctx.Locks))
            {
                try
                {
                    held.Value.Release();
                    ctx.Warnings.Add("the request did not unlock " + held.Key + "; the lock was released");
                }
                catch (Exception exception)
                {
                    ctx.Warnings.Add("the lock of " + held.Key + " could not be released: " + exception.Message);
                }
            }
            List<object> warnings = new List<object>();
            foreach (string warning in ctx.Warnings)
            {
                if (warnings.Count >= 64)
                {
                    break;
                }
                warnings.Add(Wire.Message(Cut(warning, limit), (int)limit));
            }
            Dictionary<string, object> reply = new Dictionary<string, object>();
            reply["steps"] = reports;
            reply["warnings"] = warnings;
            List<object> readBack = Req.List(request, "read_back");
            if (readBack.Count > 0)
            {
                // the stores as the steps left them: the controller records what this read shows, never what it planned
                reply["read_back"] = ReadBack.Read(readBack, ctx.Wire, ctx.CacheDir, host);
            }
            return reply;
        }

        // The results each op may report besides done, skipped and failed (schemas/agent/apply.reply.json);
        // anything else is reported failed.
        private static readonly Dictionary<string, string[]> Results = new Dictionary<string, string[]>
        {
            { "lock", new string[] { "locked" } },
            { "expect", new string[] { "conflict" } },
            { "preflight", new string[] { "refused", "in_use" } },
            { "clean", new string[0] },
            { "stage", new string[] { "source_changed" } },
            { "fetch", new string[] { "refused" } },
            { "matches", new string[] { "conflict" } },
            { "rename", new string[] { "conflict", "in_use" } },
            { "exchange", new string[] { "conflict", "in_use" } },
            { "write_pointer", new string[] { "conflict", "in_use" } },
            { "retire", new string[] { "conflict", "in_use" } },
            { "quarantine", new string[] { "conflict", "in_use" } },
            { "event", new string[0] },
            { "service", new string[] { "timeout" } },
            { "unlock", new string[0] },
        };

        private static Dictionary<string, object> RunStep(Context ctx, IDictionary step, string op, long limit)
        {
            Dictionary<string, object> report = RunOne(ctx, step, op, limit);
            string result = (string)report["result"];
            string[] allowed;
            if (result != "done" && result != "failed" && result != "skipped" && Results.TryGetValue(op, out allowed) && Array.IndexOf(allowed, result) < 0)
            {
                report["result"] = "failed";
            }
            return report;
        }

        private static Dictionary<string, object> RunOne(Context ctx, IDictionary step, string op, long limit)
        {
            if (step == null || !Primitives.Known(op))
            {
                return Report(Text.Head(op, 64), "failed", "BAD_REQUEST", "unknown step '" + op + "'", null, limit);
            }
            try
            {
                string store = Req.Get(step, "store") as string;
                if (!Paths.IsFull(store))
                {
                    throw new ArgumentException("the store '" + store + "' is not a full path");
                }
                Dictionary<string, object> data = Primitives.Run(ctx, op, store, Req.Need(step, "args"));
                object message;
                if (data.TryGetValue("message", out message))
                {
                    data.Remove("message");
                }
                return Report(op, "done", null, message as string ?? "", data, limit);
            }
            catch (Refusal refusal)
            {
                return Report(op, refusal.Result, refusal.Code, refusal.Message, refusal.Details, limit);
            }
            catch (ArgumentException exception)
            {
                return Report(op, "failed", "BAD_REQUEST", "the step's arguments cannot be used: " + exception.Message, null, limit);
            }
            catch (FormatException exception)
            {
                return Report(op, "failed", "BAD_REQUEST", "the step's arguments cannot be used: " + exception.Message, null, limit);
            }
            catch (InvalidCastException exception)
            {
                return Report(op, "failed", "BAD_REQUEST", "the step's arguments cannot be used: " + exception.Message, null, limit);
            }
            catch (Exception exception)
            {
                StepError error = Win32Error.Describe(exception, op, (int)limit);
                int code = Codes.Of(exception);
                if (code != 0 && error.Win32 == 0)
                {
                    error.Result = Win32Error.ResultFor(code);
                    error.Code = Win32Error.Name(code);
                }
                return Report(op, error.Result, error.Code, error.Message, null, limit);
            }
        }
    }

    // The store's lock: a file in the store holding who took it (pid, host, boot, time, token),
    // broken only when its owner is provably gone (store_lock.py's rules).
    public sealed class StoreLock
    {
        private readonly IHost host;
        public readonly string Path;
        public readonly string Token = Guid.NewGuid().ToString("N");

        public StoreLock(IHost host, string store, string name)
        {
            this.host = host;
            Path = Paths.Join(store, name);
        }

        private Dictionary<string, object> Record()
        {
            Dictionary<string, object> record = new Dictionary<string, object>();
            record["pid"] = (long)host.Processes.CurrentId;
            record["started"] = host.Processes.StartToken(host.Processes.CurrentId);
            record["host"] = host.Processes.HostName;
            record["boot_id"] = host.Processes.BootId;
            record["created"] = host.Clock.Now;
            record["token"] = Token;
            return record;
        }

        private bool Create()
        {
            byte[] data = new UTF8Encoding(false).GetBytes(Json.Write(Record()));
            Stream stream;
            try
            {
                stream = host.Files.CreateNew(Path);
            }
            catch (HostException exception)
            {
                if (exception.Code == Codes.AlreadyExists || exception.Code == 80)
                {
                    return false;
                }
                throw;
            }
            using (stream)
            {
                stream.Write(data, 0, data.Length);
                stream.Flush();
            }
            return true;
        }

        // A lock file's record (null when unreadable) and its age; null when it is gone.
        public static object[] Read(IHost host, string path)
        {
            Entry entry = host.Files.Stat(path);
            if (entry == null)
            {
                return null;
            }
            if (entry.Kind == "other")
            {
                // a FIFO, a device or a socket: opening it would block or read what it produces
                throw new Refusal("failed", path + ": a special file (a FIFO, a device or a socket), not a regular file: it is never opened; remove it");
            }
            double age = host.Clock.Now - (entry.MtimeSeconds + entry.MtimeNanos / 1e9);
            object record = null;
            try
            {
                using (Stream stream = host.Files.OpenRead(path))
                {
                    record = Json.Parse(new UTF8Encoding(false, true).GetString(Probe.ReadUpTo(stream, 4096)));
                }
            }
            catch (Exception)
            {
                record = null;
            }
            return new object[] { record, age, entry.FileId ?? "" };
        }

        public static string OwnerGone(IHost host, object record, double age, long staleSeconds)
        {
            IDictionary map = record as IDictionary;
            if (map == null || !(Req.Get(map, "host") is string) || !(Req.Get(map, "pid") is long))
            {
                return age > staleSeconds ? string.Format(CultureInfo.InvariantCulture, "nothing about its owner can be read and it is {0} s old", (long)age) : null;
            }
            if ((string)map["host"] != host.Processes.HostName)
            {
                return null;
            }
            string theirs = Req.Get(map, "boot_id") as string;
            string ours = host.Processes.BootId;
            if (theirs != null && ours != null && theirs != ours)
            {
                return "it was taken before this host last started";
            }
            // without boot IDs to compare (Windows has none), a lock created before the host last started is a
            // dead run's, though its process ID may belong to another process now (store_lock.py's rule)
            object created = Req.Get(map, "created");
            double boot = host.Processes.BootTime;
            bool compared = theirs != null && ours != null;
            if (!compared && boot > 0 && (created is double || created is long) && Convert.ToDouble(created, CultureInfo.InvariantCulture) < boot)
            {
                return "it was taken before this host last started";
            }
            long pid = (long)map["pid"];
            if (pid <= 0 || pid > int.MaxValue || !host.Processes.Alive((int)pid))
            {
                return "its process " + pid.ToString(CultureInfo.InvariantCulture) + " is gone";
            }
            if (Pids.Reused(host, (int)pid, Req.Get(map, "started")))
            {
                return "its process " + pid.ToString(CultureInfo.InvariantCulture) + " is gone (the ID now belongs to another process)";
            }
            return null;
        }

        private static string Describe(object record)
        {
            IDictionary map = record as IDictionary;
            if (map == null)
            {
                return "owner unreadable";
            }
            return "process " + Convert.ToString(Req.Get(map, "pid"), CultureInfo.InvariantCulture) + " on " + Text.Head(Convert.ToString(Req.Get(map, "host"), CultureInfo.InvariantCulture), 255);
        }

        // (taken, why an abandoned lock was broken, message)
        public bool Acquire(long staleSeconds, out string broken, out string message)
        {
            broken = null;
            if (Create())
            {
                message = "locked";
                return true;
            }
            object[] judged = Read(host, Path);
            string why;
            if (judged == null)
            {
                why = "it vanished";
            }
            else
            {
                why = OwnerGone(host, judged[0], (double)judged[1], staleSeconds);
                if (why == null)
                {
                    message = "the store is locked by another run (" + Describe(judged[0]) + "): " + Path;
                    return false;
                }
                string refused = Break(judged);
                if (refused != null)
                {
                    message = refused + ": " + Path;
                    return false;
                }
            }
            if (!Create())
            {
                message = "another run took the store's lock first: " + Path;
                return false;
            }
            broken = why;
            message = "locked; an abandoned lock was broken: " + why;
            return true;
        }

        private string Break(object[] judged)
        {
            string mutex = Path + ".break";
            for (int attempt = 0; attempt < 2; attempt++)
            {
                Stream stream;
                try
                {
                    stream = host.Files.CreateNew(mutex);
                }
                catch (HostException exception)
                {
                    if (exception.Code != Codes.AlreadyExists && exception.Code != 80)
                    {
                        throw;
                    }
                    object[] other = Read(host, mutex);
                    if (other == null)
                    {
                        continue;
                    }
                    if (OwnerGone(host, other[0], (double)other[1], 60) == null)
                    {
                        return "another run is breaking the store's abandoned lock";
                    }
                    DeleteQuietly(mutex);
                    continue;
                }
                try
                {
                    using (stream)
                    {
                        Dictionary<string, object> record = new Dictionary<string, object>();
                        record["pid"] = (long)host.Processes.CurrentId;
                        record["host"] = host.Processes.HostName;
                        record["boot_id"] = host.Processes.BootId;
                        byte[] data = new UTF8Encoding(false).GetBytes(Json.Write(record));
                        stream.Write(data, 0, data.Length);
                    }
                    object[] current = Read(host, Path);
                    if (current == null)
                    {
                        return null;
                    }
                    if (Json.Write(current[0]) != Json.Write(judged[0]) || (string)current[2] != (string)judged[2])
                    {
                        return "the store's lock changed hands while it was being broken";
                    }
                    host.Files.Delete(Path);
                    return null;
                }
                finally
                {
                    DeleteQuietly(mutex);
                }
            }
            return "another run is breaking the store's abandoned lock";
        }

        private void DeleteQuietly(string path)
        {
            try
            {
                host.Files.Delete(path);
            }
            catch (HostException exception)
            {
                if (exception.Code != Codes.FileNotFound && exception.Code != Codes.PathNotFound)
                {
                    throw;
                }
            }
        }

        public bool Release()
        {
            object[] current = Read(host, Path);
            if (current == null)
            {
                return false;
            }
            IDictionary map = current[0] as IDictionary;
            if (map == null || (Req.Get(map, "token") as string) != Token)
            {
                return false;
            }
            host.Files.Delete(Path);
            return true;
        }
    }

    public static class Primitives
    {
        private static readonly string[] Ops = { "lock", "expect", "preflight", "clean", "stage", "fetch", "matches", "rename", "exchange", "write_pointer", "retire", "quarantine", "event", "service", "unlock" };

        // fetch (SmsmseEngineFetch.cs): into a staging folder the step creates, removed on any failure
        private static Dictionary<string, object> Fetch(Context ctx, string store, IDictionary args)
        {
            string target = StagingFolder(ctx, store, args, "fetched");
            foreach (object key in Req.Need(args, "manifest").Keys)
            {
                Relative((string)key);
            }
            ctx.Fs.CreateFolder(target);
            try
            {
                return Fetcher.Run(ctx.Host, ctx.Wire, store, target, args);
            }
            catch (Exception)
            {
                try
                {
                    RemoveEntry(ctx, target);
                }
                catch (IOException)
                {
                }
                throw;
            }
        }

        // <store>/<name> where name starts with the wire's staging prefix: a set is staged or fetched into one only,
        // a name the product's copy job would never take.
        public static string StagingFolder(Context ctx, string store, IDictionary args, string verb)
        {
            string name = Req.Get(args, "name") as string;
            string prefix = ctx.W("staging_prefix");
            if (name == null || !name.StartsWith(prefix, StringComparison.Ordinal))
            {
                throw new ArgumentException("'" + name + "' is not a staging folder name (" + prefix + "...): a set is " + verb + " into one only");
            }
            return Folder(ctx, store, name);
        }

        public static bool Known(string op)
        {
            return Array.IndexOf(Ops, op) >= 0;
        }

        public static Dictionary<string, object> Run(Context ctx, string op, string store, IDictionary args)
        {
            switch (op)
            {
                case "lock": return Lock(ctx, store, args);
                case "unlock": return Unlock(ctx, store);
                case "expect": return Expect(ctx, store, args);
                case "preflight": return Preflight(ctx, store, args);
                case "clean": return Clean(ctx, store);
                case "stage": return Sets.Stage(ctx, store, args);
                case "fetch": return Fetch(ctx, store, args);
                case "matches": return Sets.Matches(ctx, store, args);
                case "rename": return Rename(ctx, store, args);
                case "exchange": return Exchange(ctx, store, args);
                case "write_pointer": return WritePointer(ctx, store, args);
                case "retire": return Removal.Retire(ctx, store, args);
                case "quarantine": return Removal.Quarantine(ctx, store, args);
                case "event": return Notify.Event(ctx, args);
                default: return Notify.Service(ctx, store, args);
            }
        }

        private static Dictionary<string, object> Data(params object[] pairs)
        {
            Dictionary<string, object> data = new Dictionary<string, object>();
            for (int i = 0; i + 1 < pairs.Length; i += 2)
            {
                data[(string)pairs[i]] = pairs[i + 1];
            }
            return data;
        }

        public static Dictionary<string, object> D(params object[] pairs)
        {
            return Data(pairs);
        }

        // <store>/<name> for a single folder name, never a path that leads elsewhere.
        public static string Folder(Context ctx, string store, object name)
        {
            string text = name as string;
            if (string.IsNullOrEmpty(text) || text == "." || text == ".." || text.IndexOf('/') >= 0 || text.IndexOf('\\') >= 0 || text.IndexOf('\0') >= 0
                || (ctx.Host.Info.Os == "windows" && !Names.IsComponent(text)))
            {
                throw new ArgumentException("'" + text + "' is not a folder name of the store");
            }
            return Paths.Join(store, text);
        }

        public static string[] Relative(string rel)
        {
            string[] parts = rel.Split('/');
            foreach (string part in parts)
            {
                if (part.Length == 0 || part == "." || part == ".." || part.IndexOf('\0') >= 0 || part.IndexOf('\\') >= 0)
                {
                    throw new ArgumentException("'" + rel + "' is not a path inside a set");
                }
            }
            return parts;
        }

        // What lstat sees at `path`: kind (absent, file, link, dir, other) and, for a regular file, its SHA-256.
        public static string[] PointerState(Context ctx, string path)
        {
            Entry entry = ctx.Fs.Stat(path);
            if (entry == null)
            {
                return new string[] { "absent", null };
            }
            if (entry.Kind != "file")
            {
                return new string[] { entry.Kind, null };
            }
            if (entry.Size > Probe.MaxDefinfoHash)
            {
                // as the probe sees it: over 16 MiB, a file without a digest (never read)
                return new string[] { "file", null };
            }
            try
            {
                using (Stream stream = ctx.Fs.OpenRead(path))
                {
                    long count;
                    return new string[] { "file", Sha.Stream(stream, out count) };
                }
            }
            catch (HostException exception)
            {
                if (exception.Code == Codes.FileNotFound)
                {
                    return new string[] { "absent", null };
                }
                throw;
            }
        }

        public static string[] Expected(object sha256, object kind)
        {
            string digest = sha256 as string;
            string named = kind as string;
            return new string[] { named ?? (digest != null ? "file" : "absent"), digest };
        }

        private static bool Same(string[] a, string[] b)
        {
            return a[0] == b[0] && a[1] == b[1];
        }

        private static Refusal Changed(Context ctx, string[] now, string when)
        {
            return Changed(ctx, now, when, ctx.W("definfo"));
        }

        private static Refusal Changed(Context ctx, string[] now, string when, string file)
        {
            string what;
            switch (now[0])
            {
                case "link": what = "a link"; break;
                case "dir": what = "a dir"; break;
                case "absent": what = "absent"; break;
                case "file": what = "a file"; break;
                default: what = "a special file"; break;
            }
            return new Refusal("conflict", file + " changed " + when + " (it is now " + what + ")", null, Data("sha256", now[1], "kind", now[0]));
        }

        private static Dictionary<string, object> Lock(Context ctx, string store, IDictionary args)
        {
            if (ctx.Locks.ContainsKey(store))
            {
                return Data("broken", null);
            }
            StoreLock held = new StoreLock(ctx.Host, store, ctx.W("lock"));
            string broken, message;
            if (!held.Acquire(Req.NeedLong(args, "stale_seconds"), out broken, out message))
            {
                throw new Refusal("locked", message);
            }
            ctx.Locks[store] = held;
            return Data("broken", broken);
        }

        private static Dictionary<string, object> Unlock(Context ctx, string store)
        {
            StoreLock held;
            if (ctx.Locks.TryGetValue(store, out held))
            {
                ctx.Locks.Remove(store);
                if (!held.Release())
                {
                    throw new Refusal("failed", "the store's lock was no longer this run's when it was released: " + held.Path, "LOCK_LOST", null);
                }
            }
            return Data();
        }

        private static Dictionary<string, object> Expect(Context ctx, string store, IDictionary args)
        {
            if (!args.Contains("definfo_sha256"))
            {
                throw new ArgumentException("'definfo_sha256' is missing");
            }
            string[] now = PointerState(ctx, ctx.Definfo(store));
            if (!Same(now, Expected(Req.Get(args, "definfo_sha256"), Req.Get(args, "definfo_kind"))))
            {
                throw Changed(ctx, now, "since it was read");
            }
            return Data("sha256", now[1], "kind", now[0]);
        }

        private static string Nearest(Context ctx, string path)
        {
            string current = path;
            while (ctx.Fs.Stat(current) == null)
            {
                string parent = Paths.Parent(current);
                if (parent == null || parent == current)
                {
                    break;
                }
                current = parent;
            }
            return current;
        }

        public static string OsText(Exception exception)
        {
            int code = Codes.Of(exception);
            return (code != 0 ? Win32Error.Name(code) + ": " : "") + Win32Error.InnerMessage(exception);
        }

        // Whether only the accounts the policy trusts can change the store (Windows; other hosts have no such rule).
        public static bool CheckPrivate(Context ctx, string store, string result)
        {
            Dictionary<string, object> record = ctx.Host.Privacy(store, ctx.Privacy);
            if (record == null)
            {
                return false;
            }
            if (record["private"] is bool && (bool)record["private"])
            {
                return true;
            }
            List<string> named = new List<string>();
            foreach (object item in (IList)record["problems"])
            {
                IDictionary problem = (IDictionary)item;
                named.Add(string.Format(CultureInfo.InvariantCulture, "{0} ({1} {2}{3})", problem["path"], problem["kind"], problem["account"] ?? "", problem["rights"] == null ? "" : ": " + problem["rights"]));
            }
            string why = record["error"] as string ?? string.Join("; ", named.ToArray());
            throw new Refusal(result, "the store " + store + " can be changed by accounts the privacy policy does not trust: " + why + " (set ACLs as the product's installer does, or add the accounts that should change the stores to the store_privacy option, by SID)", "STORE_NOT_PRIVATE", null);
        }

        private static Dictionary<string, object> Preflight(Context ctx, string store, IDictionary args)
        {
            List<object> checkedList = new List<object>();
            if (CheckPrivate(ctx, store, "refused"))
            {
                checkedList.Add("private");
            }
            if (Req.Bool(args, "pointer_writable", false))
            {
                string target = ctx.Definfo(store);
                string probe = Paths.Join(store, ctx.TempName());
                try
                {
                    if (PointerState(ctx, target)[0] == "file")
                    {
                        ctx.Fs.ProbeWritable(target);
                    }
                    ctx.Fs.CreateNew(probe).Dispose();
                    ctx.Fs.Delete(probe);
                }
                catch (Exception exception)
                {
                    if (exception is Refusal)
                    {
                        throw;
                    }
                    throw new Refusal("refused", ctx.W("definfo") + " cannot be replaced: " + OsText(exception), "POINTER_NOT_WRITABLE", null);
                }
                checkedList.Add("pointer_writable");
            }
            Entry storeEntry = ctx.Fs.StatFollow(store);
            if (storeEntry == null)
            {
                throw new HostException(Codes.PathNotFound, "the store does not exist", store);
            }
            List<object> sameVolume = Req.List(args, "same_volume");
            foreach (object item in sameVolume)
            {
                string path = (string)item;
                Entry there = ctx.Fs.StatFollow(Nearest(ctx, path));
                if (there == null || there.Volume != storeEntry.Volume)
                {
                    throw new Refusal("refused", path + " is not on the volume of " + store + ", so a set cannot be moved there by a rename", "NOT_SAME_VOLUME", null);
                }
            }
            if (sameVolume.Count > 0)
            {
                checkedList.Add("same_volume");
            }
            long need = Req.Long(args, "free_bytes", 0);
            if (need > 0)
            {
                long? free = ctx.Fs.FreeBytes(store);
                if (free.HasValue && free.Value < need)
                {
                    throw new Refusal("refused", string.Format(CultureInfo.InvariantCulture, "{0} has {1} bytes free; the change needs {2}", store, free.Value, need), "NO_SPACE", null);
                }
                checkedList.Add("free_bytes");
            }
            List<object> notInUse = Req.List(args, "not_in_use");
            List<string> holders = new List<string>();
            double deadline = ctx.Host.Clock.Now + ctx.Budget(store);
            while (notInUse.Count > 0)
            {
                // the scanner lets go of a set a moment after its service stopped: asked again within the budget
                holders.Clear();
                foreach (object name in notInUse)
                {
                    holders.AddRange(ctx.Host.Services.Holders(Folder(ctx, store, name)));
                }
                if (holders.Count == 0 || ctx.Host.Clock.Now >= deadline)
                {
                    break;
                }
                ctx.Host.Clock.Sleep(1000);
            }
            if (holders.Count > 0)
            {
                throw new Refusal("in_use", "files of the set are held open by " + string.Join(", ", holders.ToArray()), "SET_IN_USE", Data("holders", new List<object>(holders.ToArray())));
            }
            if (notInUse.Count > 0 && ctx.Host.Info.Os == "windows")
            {
                checkedList.Add("not_in_use");
            }
            return Data("checked", checkedList);
        }

        private static bool IsLeftover(Context ctx, string entry, string path)
        {
            string lockName = ctx.W("lock");
            if (entry.StartsWith(ctx.W("staging_prefix"), StringComparison.Ordinal) || entry.StartsWith(ctx.W("trash_prefix"), StringComparison.Ordinal) || entry.StartsWith(lockName + ".stale-", StringComparison.Ordinal))
            {
                return true;
            }
            if (entry.StartsWith(ctx.W("definfo_temp_prefix"), StringComparison.Ordinal) && entry.EndsWith(".tmp", StringComparison.Ordinal))
            {
                return true;
            }
            if (entry == lockName + ".break")
            {
                Entry breaker = ctx.Fs.Stat(path);
                if (breaker != null && breaker.Kind == "other")
                {
                    return false; // a special file is never a breaker of ours to judge
                }
                object[] record = StoreLock.Read(ctx.Host, path);
                return record != null && StoreLock.OwnerGone(ctx.Host, record[0], (double)record[1], 60) != null;
            }
            if (entry.StartsWith(lockName + "-", StringComparison.Ordinal) && entry.EndsWith(".tmp", StringComparison.Ordinal))
            {
                Entry found = ctx.Fs.Stat(path);
                return found != null && ctx.Host.Clock.Now - found.MtimeSeconds > 60;
            }
            return false;
        }

        // Remove a file, a link (never followed) or a folder tree (links inside removed, not followed).
        public static void RemoveEntry(Context ctx, string path)
        {
            Entry entry = ctx.Fs.Stat(path);
            if (entry == null)
            {
                return;
            }
            if (entry.ReadOnly)
            {
                ctx.Fs.MakeWritable(path);
            }
            if (entry.Kind != "dir")
            {
                Retry.Run(ctx, ctx.Budget(path), delegate { ctx.Fs.Delete(path); });
                return;
            }
            foreach (Entry item in ctx.Fs.List(path))
            {
                RemoveEntry(ctx, Paths.Join(path, item.Name));
            }
            Retry.Run(ctx, ctx.Budget(path), delegate { ctx.Fs.DeleteFolder(path); });
        }

        private static string AsideOf(Context ctx, string entry)
        {
            string lead = ctx.W("exchange_aside_prefix");
            if (!entry.StartsWith(lead, StringComparison.Ordinal))
            {
                return null;
            }
            string rest = entry.Substring(lead.Length);
            int dash = rest.LastIndexOf('-');
            if (dash < 0 || dash == rest.Length - 1)
            {
                return null;
            }
            string name = rest.Substring(0, dash);
            return name.Length > 0 && name != "." && name != ".." && name.IndexOf('/') < 0 && name.IndexOf('\\') < 0 ? name : null;
        }

        private static List<string> SortedNames(Context ctx, string folder)
        {
            List<string> names = new List<string>();
            foreach (Entry entry in ctx.Fs.List(folder))
            {
                names.Add(entry.Name);
            }
            names.Sort(StringComparer.Ordinal);
            return names;
        }

        private static Dictionary<string, object> Clean(Context ctx, string store)
        {
            CheckPrivate(ctx, store, "failed");
            List<object> removed = new List<object>();
            List<object> remaining = new List<object>();
            List<object> restored = new List<object>();
            List<string> errors = new List<string>();
            foreach (string entry in SortedNames(ctx, store))
            {
                string name = AsideOf(ctx, entry);
                if (name == null || ctx.Fs.Stat(Paths.Join(store, name)) != null)
                {
                    continue;
                }
                try
                {
                    ctx.Fs.Move(Paths.Join(store, entry), Paths.Join(store, name));
                    restored.Add(name);
                }
                catch (IOException exception)
                {
                    errors.Add(entry + " could not be renamed back to " + name + ": " + OsText(exception));
                }
            }
            if (restored.Count > 0)
            {
                ctx.Fs.Flush(store);
            }
            bool pointerThere = ctx.Fs.Stat(ctx.Definfo(store)) != null;
            foreach (string entry in SortedNames(ctx, store))
            {
                string path = Paths.Join(store, entry);
                if (!IsLeftover(ctx, entry, path))
                {
                    continue;
                }
                if (!pointerThere && entry.StartsWith(ctx.W("definfo_temp_prefix"), StringComparison.Ordinal))
                {
                    remaining.Add(entry);
                    errors.Add(entry + " is kept: " + ctx.W("definfo") + " is missing and it may be the only copy of the new one");
                    continue;
                }
                string aside = AsideOf(ctx, entry);
                if (aside != null && ctx.Fs.Stat(Paths.Join(store, aside)) == null)
                {
                    remaining.Add(entry);
                    continue;
                }
                try
                {
                    RemoveEntry(ctx, path);
                    removed.Add(entry);
                }
                catch (Exception exception)
                {
                    if (!(exception is IOException || exception is UnauthorizedAccessException))
                    {
                        throw;
                    }
                    remaining.Add(entry);
                    errors.Add(entry + ": " + OsText(exception));
                }
            }
            int max = (int)ctx.Limit("max_list");
            Dictionary<string, object> data = Data("removed", removed.GetRange(0, Math.Min(max, removed.Count)), "remaining", remaining.GetRange(0, Math.Min(max, remaining.Count)));
            if (restored.Count > 0)
            {
                data["restored"] = restored.GetRange(0, Math.Min(max, restored.Count));
            }
            if (remaining.Count > 0)
            {
                throw new Refusal("failed", "leftovers could not be removed or put back: " + string.Join("; ", errors.ToArray()), "LEFTOVERS_REMAIN", data);
            }
            return data;
        }

        private static Dictionary<string, object> Rename(Context ctx, string store, IDictionary args)
        {
            string target = Folder(ctx, store, Req.Get(args, "to"));
            if (ctx.Fs.Stat(target) != null)
            {
                throw new Refusal("conflict", Req.Get(args, "to") + " appeared in the store since it was read; nothing was moved");
            }
            string source = Folder(ctx, store, Req.Get(args, "from"));
            if (ctx.Fs.Stat(source) == null)
            {
                throw new Refusal("conflict", source + " is not in the store");
            }
            ctx.Move(source, target);
            ctx.Fs.Flush(store);
            return Data();
        }

        // Swap two folders by two renames (.NET has no atomic exchange): b goes aside first, so a
        // kill between the renames leaves `<aside prefix><b>-<token>`, which the next clean puts back.
        private static Dictionary<string, object> Exchange(Context ctx, string store, IDictionary args)
        {
            string a = Folder(ctx, store, Req.Get(args, "a"));
            string bName = Req.NeedStr(args, "b");
            string b = Folder(ctx, store, bName);
            foreach (string path in new string[] { a, b })
            {
                if (ctx.Fs.Stat(path) == null)
                {
                    throw new Refusal("conflict", path + " is not in the store: nothing was exchanged");
                }
            }
            object expected = Req.Get(args, "expect_b");
            if (expected != null)
            {
                // compare-and-swap: b must still hold what it held when it was read
                IDictionary expectB = expected as IDictionary;
                if (expectB == null)
                {
                    throw new ArgumentException("'expect_b' is not a mapping of files");
                }
                foreach (object key in expectB.Keys)
                {
                    Relative((string)key);
                }
                if (!Sets.Holds(ctx, b, expectB, store, true))
                {
                    throw new Refusal("conflict", bName + " no longer holds what was read (another run replaced it?): nothing was exchanged");
                }
            }
            string aside = Paths.Join(store, ctx.W("exchange_aside_prefix") + bName + "-" + Context.Token());
            ctx.Move(b, aside);
            try
            {
                ctx.Move(a, b);
            }
            catch (Exception)
            {
                ctx.Move(aside, b);
                throw;
            }
            ctx.Move(aside, a);
            ctx.Fs.Flush(store);
            return Data("atomic", false);
        }

        // definfo.dat (the default) or, with `file`, the store's usage.dat: never another name
        private static Dictionary<string, object> WritePointer(Context ctx, string store, IDictionary args)
        {
            string name = Req.Str(args, "file") ?? ctx.W("definfo");
            if (name != ctx.W("definfo") && name != ctx.W("usage"))
            {
                throw new ArgumentException("'" + name + "' is not a file a step may replace (only " + ctx.W("definfo") + " or " + ctx.W("usage") + ")");
            }
            byte[] content = Convert.FromBase64String(Req.NeedStr(args, "content_b64"));
            long max = ctx.Limit("max_definfo_bytes");
            if (content.Length > max)
            {
                throw new ArgumentException("the new " + name + " is larger than " + max.ToString(CultureInfo.InvariantCulture) + " bytes");
            }
            if (!args.Contains("expect_sha256"))
            {
                throw new ArgumentException("'expect_sha256' is missing");
            }
            string target = Paths.Join(store, name);
            string[] want = Expected(Req.Get(args, "expect_sha256"), Req.Get(args, "expect_kind"));
            string[] now = PointerState(ctx, target);
            if (!Same(now, want))
            {
                throw Changed(ctx, now, "since it was read", name);
            }
            if (now[0] == "dir")
            {
                throw new HostException(267, "a folder is never replaced by a file: move it aside first", target);
            }
            string tempName = ctx.TempName();
            string temp = Paths.Join(store, tempName);
            bool kept = false;
            try
            {
                using (Stream stream = ctx.Fs.CreateNew(temp))
                {
                    stream.Write(content, 0, content.Length);
                    stream.Flush();
                }
                now = PointerState(ctx, target);
                if (!Same(now, want))
                {
                    throw Changed(ctx, now, "while the new one was written", name);
                }
                try
                {
                    Retry.Run(ctx, ctx.Budget(target), delegate { ctx.Fs.Replace(temp, target); });
                }
                catch (HostException exception)
                {
                    // ReplaceFile can fail after it removed definfo.dat (1176, 1177): the new pointer is then the
                    // only one there is, kept under its temporary name for the next run (clean keeps it too)
                    if (ctx.Fs.Stat(target) != null || ctx.Fs.Stat(temp) == null)
                    {
                        throw;
                    }
                    kept = true;
                    throw new Refusal("failed", name + " was removed but the new one could not take its name (" + Primitives.OsText(exception) + "); it is kept as " + tempName, "POINTER_MISSING", Data("temp", tempName));
                }
            }
            finally
            {
                if (!kept && ctx.Fs.Stat(temp) != null)
                {
                    ctx.Fs.Delete(temp);
                }
            }
            ctx.Fs.Flush(store);
            string[] after = PointerState(ctx, target);
            return Data("sha256", after[1], "kind", after[0]);
        }
    }

    // stage and matches: a set's files copied with their digests, and a set folder checked against its manifest.
    public static class Sets
    {
        // Every file of a set folder, and every link to a folder in it, '/'-separated relative paths.
        public static HashSet<string> SourceFiles(Context ctx, string folder)
        {
            HashSet<string> found = new HashSet<string>(StringComparer.Ordinal);
            Walk(ctx, folder, "", found);
            return found;
        }

        private static void Walk(Context ctx, string folder, string rel, HashSet<string> found)
        {
            foreach (Entry entry in ctx.Fs.List(folder))
            {
                string path = rel.Length == 0 ? entry.Name : rel + "/" + entry.Name;
                if (entry.Kind == "dir")
                {
                    Walk(ctx, Paths.Join(folder, entry.Name), path, found);
                }
                else
                {
                    found.Add(path);
                }
            }
        }

        private static bool SameNames(HashSet<string> found, IDictionary manifest)
        {
            if (found.Count != manifest.Count)
            {
                return false;
            }
            foreach (object key in manifest.Keys)
            {
                if (!found.Contains((string)key))
                {
                    return false;
                }
            }
            return true;
        }

        // Copy `source` to a new file `target`, hashing while copying; (size, SHA-256).
        public static string CopyFile(Context ctx, string source, string target, out long size)
        {
            string digest = CopyBytes(ctx, source, target, out size);
            // after the writer is closed: Windows sets a time by opening the file for writing
            ctx.Fs.CopyTimes(source, target);
            return digest;
        }

        private static string CopyBytes(Context ctx, string source, string target, out long size)
        {
            using (Stream reader = ctx.Fs.OpenRead(source))
            using (Stream writer = ctx.Fs.CreateNew(target))
            using (System.Security.Cryptography.SHA256 sha = Sha.New())
            {
                byte[] buffer = new byte[1 << 20];
                size = 0;
                int read;
                while ((read = reader.Read(buffer, 0, buffer.Length)) > 0)
                {
                    sha.TransformBlock(buffer, 0, read, null, 0);
                    writer.Write(buffer, 0, read);
                    size += read;
                }
                sha.TransformFinalBlock(buffer, 0, 0);
                writer.Flush();
                return Hashing.Hex(sha.Hash);
            }
        }

        public static string ReadDigest(Context ctx, string path, out long size)
        {
            using (Stream stream = ctx.Fs.OpenRead(path))
            {
                return Sha.Stream(stream, out size);
            }
        }

        public static Dictionary<string, object> Stage(Context ctx, string store, IDictionary args)
        {
            string source = Req.NeedStr(args, "source");
            IDictionary manifest = Req.Need(args, "manifest");
            string marker = ctx.W("marker");
            string target = Primitives.StagingFolder(ctx, store, args, "staged");
            List<string> names = new List<string>();
            foreach (object key in manifest.Keys)
            {
                Primitives.Relative((string)key);
                names.Add((string)key);
            }
            Entry top = ctx.Fs.Stat(source);
            if (top == null || top.Kind != "dir" || !SameNames(SourceFiles(ctx, source), manifest))
            {
                throw new Refusal("source_changed", "the source set " + source + " no longer holds the files that were verified");
            }
            names.Sort(delegate(string a, string b) { return Fetcher.MarkerLast(a, b, marker); });
            ctx.Fs.CreateFolder(target);
            long copied = 0;
            try
            {
                foreach (string rel in names)
                {
                    string[] parts = Primitives.Relative(rel);
                    string src = Paths.JoinRelative(source, rel);
                    string dst = Paths.JoinRelative(target, rel);
                    Fetcher.MakeParents(ctx.Fs, target, parts);
                    Entry entry = ctx.Fs.Stat(src);
                    if (entry == null)
                    {
                        throw new Refusal("source_changed", rel + " left the source set while it was copied (LiveUpdate purged it?)");
                    }
                    if (entry.Kind != "file")
                    {
                        throw new Refusal("source_changed", rel + " in the source set is no longer a regular file");
                    }
                    long size;
                    string digest;
                    try
                    {
                        digest = CopyFile(ctx, src, dst, out size);
                    }
                    catch (HostException exception)
                    {
                        if (exception.Code == Codes.FileNotFound && ctx.Fs.Stat(src) == null)
                        {
                            throw new Refusal("source_changed", rel + " left the source set while it was copied (LiveUpdate purged it?)");
                        }
                        throw;
                    }
                    IDictionary want = (IDictionary)manifest[rel];
                    if (size != Req.NeedLong(want, "size") || digest != Req.NeedStr(want, "sha256"))
                    {
                        throw new Refusal("source_changed", rel + " in the source set changed after it was verified");
                    }
                    copied += size;
                }
                ctx.Fs.Flush(target);
                ctx.Fs.Flush(store);
                // what landed, read back from the store: an antivirus filter may clean, cut or remove a file just written
                Fetcher.MatchReadBack(ctx.Fs, target, manifest, names, "copied", "the staged set was removed");
                ctx.Staged[target] = copied;
            }
            catch (Exception)
            {
                try
                {
                    Primitives.RemoveEntry(ctx, target);
                }
                catch (IOException)
                {
                }
                throw;
            }
            return Primitives.D("bytes_copied", copied, "files", (long)manifest.Count);
        }

        // Whether `folder` holds exactly the manifest's files; with sizeOnly, a file listed without a digest (null) is
        // compared by its size alone (exchange's expect_b: what a folder held when it was read).
        public static bool Holds(Context ctx, string folder, IDictionary manifest, string store, bool sizeOnly = false)
        {
            Entry top = ctx.Fs.Stat(folder);
            if (top == null || top.Kind != "dir" || !SameNames(SourceFiles(ctx, folder), manifest))
            {
                return false;
            }
            HashCache cache = new HashCache(ctx.Host, ctx.CacheDir, store, true, HashCache.DefaultMaxAge);
            foreach (DictionaryEntry item in manifest)
            {
                string path = Paths.JoinRelative(folder, (string)item.Key);
                Entry entry = ctx.Fs.Stat(path);
                IDictionary want = (IDictionary)item.Value;
                string digest = sizeOnly ? Req.Get(want, "sha256") as string : Req.NeedStr(want, "sha256");
                if (entry == null || entry.Kind != "file" || entry.Size != Req.NeedLong(want, "size") || (digest != null && cache.Digest(path, entry) != digest))
                {
                    return false;
                }
            }
            return true;
        }

        public static Dictionary<string, object> Matches(Context ctx, string store, IDictionary args)
        {
            string name = Req.NeedStr(args, "name");
            string path = Primitives.Folder(ctx, store, name);
            IDictionary manifest = Req.Need(args, "manifest");
            foreach (object key in manifest.Keys)
            {
                Primitives.Relative((string)key);
            }
            if (Holds(ctx, path, manifest, store))
            {
                return Primitives.D();
            }
            Entry entry = ctx.Fs.Stat(path);
            string why;
            if (entry != null && entry.Kind == "link")
            {
                why = "is a link, not a folder (links are never followed)";
            }
            else if (entry == null || entry.Kind != "dir")
            {
                why = "is not a folder of the store";
            }
            else
            {
                why = "no longer holds the files that were verified";
            }
            throw new Refusal("conflict", name + " " + why);
        }
    }

    // retire and quarantine: a set leaves its name in one rename; quarantine never deletes a set
    // before a verified copy of it exists elsewhere.
    //
    // Neither removes a set the store's definfo.dat names at that moment (the product may point at it
    // between the controller's read and this step): the pointer is read right before the set leaves its
    // name and again right after; a set it names then is put back under its name and the step ends
    // conflict. A pointer that cannot be read (a link, a special file, too large) may name it: the step
    // refuses the same way (plugins/module_utils/set_removal.py).
    public static class Removal
    {
        // Why `name` may not leave the store now: its definfo.dat names it (or cannot be read); null when free.
        public static string Named(Context ctx, string store, string name)
        {
            if (name == ctx.W("definfo"))
            {
                return null;
            }
            string why;
            Dictionary<string, string> values = Pointer.Read(ctx.Host, store, ctx.W("definfo"), ctx.Limit("max_definfo_bytes"), out why);
            if (why != null)
            {
                return why + ", so it may name " + name;
            }
            foreach (KeyValuePair<string, string> value in values ?? new Dictionary<string, string>())
            {
                if (value.Value == name)
                {
                    return ctx.W("definfo") + " of the store names " + name + " (" + value.Key + ") right now (the product's own copy job?)";
                }
            }
            return null;
        }

        private static void RefuseNamed(Context ctx, string store, string name, Dictionary<string, object> data)
        {
            string why = Named(ctx, store, name);
            if (why != null)
            {
                throw new Refusal("conflict", name + " was not removed: " + why, null, data);
            }
        }

        // After `name` was renamed to `moved`: when the pointer names it now, rename it back (its name still free) and refuse.
        private static void PutBackIfNamed(Context ctx, string store, string name, string moved, Dictionary<string, object> data)
        {
            string why = Named(ctx, store, name);
            if (why == null)
            {
                return;
            }
            string path = Paths.Join(store, name);
            if (ctx.Fs.Stat(path) != null)
            {
                throw new Refusal("conflict", name + " is at " + moved + "; its name was taken meanwhile, and " + why, null, data);
            }
            ctx.Move(moved, path);
            ctx.Fs.Flush(store);
            throw new Refusal("conflict", name + " was put back: " + why, null, data);
        }

        private static Dictionary<string, object> NotRetired()
        {
            return Primitives.D("removed", false, "trash", null, "link", false);
        }

        public static Dictionary<string, object> Retire(Context ctx, string store, IDictionary args)
        {
            string name = Req.NeedStr(args, "name");
            string path = Primitives.Folder(ctx, store, name);
            Entry entry = ctx.Fs.Stat(path);
            if (entry == null)
            {
                return Primitives.D("removed", false, "trash", null, "link", false, "message", name + " was not in the store");
            }
            RefuseNamed(ctx, store, name, NotRetired());
            if (entry.Kind != "dir")
            {
                bool link = entry.Kind == "link";
                Primitives.RemoveEntry(ctx, path);
                ctx.Fs.Flush(store);
                string what = link ? "a link; the link was removed and its target not touched" : "not a folder; it was removed";
                return Primitives.D("removed", true, "trash", null, "link", link, "message", name + " was " + what);
            }
            string trashName = ctx.W("trash_prefix") + name + "-" + Context.Token();
            string trash = Paths.Join(store, trashName);
            ctx.Move(path, trash);
            ctx.Fs.Flush(store);
            PutBackIfNamed(ctx, store, name, trash, NotRetired());
            try
            {
                Primitives.RemoveEntry(ctx, trash);
            }
            catch (IOException exception)
            {
                ctx.Warnings.Add(name + " was retired to " + trashName + ", which could not be deleted yet: " + Primitives.OsText(exception));
                return Primitives.D("removed", false, "trash", trashName, "link", false);
            }
            return Primitives.D("removed", true, "trash", null, "link", false);
        }

        private static void MakeFolders(Context ctx, string path)
        {
            List<string> missing = new List<string>();
            string current = path;
            while (current != null && ctx.Fs.Stat(current) == null)
            {
                missing.Add(current);
                string parent = Paths.Parent(current);
                current = parent == current ? null : parent;
            }
            for (int i = missing.Count - 1; i >= 0; i--)
            {
                ctx.Fs.CreateFolder(missing[i]);
            }
            Entry there = ctx.Fs.StatFollow(path);
            if (there == null || there.Kind != "dir")
            {
                throw new HostException(Codes.AlreadyExists, "not a folder", path);
            }
        }

        private static long CopyTree(Context ctx, string source, string target)
        {
            ctx.Fs.CreateFolder(target);
            long copied = 0;
            List<Entry> entries = new List<Entry>(ctx.Fs.List(source));
            entries.Sort(delegate(Entry a, Entry b) { return Paths.Compare(a.Name, b.Name); });
            foreach (Entry entry in entries)
            {
                string src = Paths.Join(source, entry.Name);
                string dst = Paths.Join(target, entry.Name);
                if (entry.Kind == "dir")
                {
                    copied += CopyTree(ctx, src, dst);
                }
                else if (entry.Kind == "file")
                {
                    long size, back;
                    string digest = Sets.CopyFile(ctx, src, dst, out size);
                    if (Sets.ReadDigest(ctx, dst, out back) != digest || back != size)
                    {
                        throw new Refusal("failed", dst + " does not read back as it was written; the set stays in the store", "COPY_MISMATCH", null);
                    }
                    copied += size;
                }
                else
                {
                    throw new Refusal("failed", src + " is a link or special file: a set holding one is never copied to another volume", "SET_IS_LINK", null);
                }
            }
            ctx.Fs.Flush(target);
            return copied;
        }

        private static string TreeDigest(Context ctx, string root)
        {
            StringBuilder text = new StringBuilder();
            TreeLines(ctx, root, "", text);
            return Sha.Of(Encoding.UTF8.GetBytes(text.ToString()));
        }

        private static void TreeLines(Context ctx, string folder, string rel, StringBuilder text)
        {
            List<Entry> entries = new List<Entry>(ctx.Fs.List(folder));
            entries.Sort(delegate(Entry a, Entry b) { return Paths.Compare(a.Name, b.Name); });
            foreach (Entry entry in entries)
            {
                string path = rel.Length == 0 ? entry.Name : rel + "/" + entry.Name;
                long size;
                if (entry.Kind == "dir")
                {
                    text.Append("D ").Append(path).Append('\n');
                    TreeLines(ctx, Paths.Join(folder, entry.Name), path, text);
                }
                else if (entry.Kind == "file")
                {
                    text.Append("F ").Append(path).Append(' ').Append(Sets.ReadDigest(ctx, Paths.Join(folder, entry.Name), out size)).Append('\n');
                }
                else
                {
                    text.Append("O ").Append(path).Append('\n');
                }
            }
        }

        public static Dictionary<string, object> Quarantine(Context ctx, string store, IDictionary args)
        {
            string name = Req.NeedStr(args, "name");
            string destDir = Req.NeedStr(args, "dest_dir");
            if (!Paths.IsFull(destDir))
            {
                // a relative folder would land in the agent's working folder
                throw new ArgumentException("the quarantine folder '" + destDir + "' is not a full path: give dest_dir as a full path");
            }
            string path = Primitives.Folder(ctx, store, name);
            Entry entry = ctx.Fs.Stat(path);
            if (entry == null)
            {
                throw new Refusal("conflict", path + " is not in the store: nothing was quarantined");
            }
            string destination = Primitives.Folder(ctx, destDir, Req.Get(args, "dest_name"));
            RefuseNamed(ctx, store, name, null);
            MakeFolders(ctx, destDir);
            Primitives.CheckPrivate(ctx, destDir, "failed");
            if (ctx.Fs.Stat(destination) != null)
            {
                throw new Refusal("conflict", destination + " already exists: nothing was quarantined");
            }
            try
            {
                ctx.Move(path, destination);
                ctx.Fs.Flush(store);
                ctx.Fs.Flush(destDir);
                PutBackIfNamed(ctx, store, name, destination, null);
                return Primitives.D("destination", destination, "copied", false, "bytes_copied", 0L);
            }
            catch (HostException exception)
            {
                if (exception.Code != Codes.NotSameDevice)
                {
                    throw;
                }
            }
            if (entry.Kind != "dir")
            {
                throw new Refusal("failed", path + " is a link or a file: only a set folder is copied to another volume", "SET_IS_LINK", null);
            }
            string partial = destination + ".partial-" + Context.Token();
            long copied;
            try
            {
                copied = CopyTree(ctx, path, partial);
                if (TreeDigest(ctx, partial) != TreeDigest(ctx, path))
                {
                    throw new Refusal("failed", "the quarantined copy " + partial + " differs from the set; the set stays in the store", "COPY_MISMATCH", null);
                }
                ctx.Move(partial, destination);
                ctx.Fs.Flush(destDir);
            }
            catch (Exception)
            {
                try
                {
                    Primitives.RemoveEntry(ctx, partial);
                }
                catch (IOException)
                {
                }
                throw;
            }
            string trashName = ctx.W("trash_prefix") + name + "-" + Context.Token();
            string trash = Paths.Join(store, trashName);
            ctx.Move(path, trash);
            ctx.Fs.Flush(store);
            PutBackIfNamed(ctx, store, name, trash, Primitives.D("destination", destination, "copied", true, "bytes_copied", copied));
            try
            {
                Primitives.RemoveEntry(ctx, trash);
            }
            catch (IOException exception)
            {
                ctx.Warnings.Add(name + " was copied to " + destination + "; its old folder " + trashName + " is left for the next clean: " + Primitives.OsText(exception));
            }
            return Primitives.D("destination", destination, "copied", true, "bytes_copied", copied);
        }
    }

    // event and service.
    public static class Notify
    {
        public static Dictionary<string, object> Event(Context ctx, IDictionary args)
        {
            List<IDictionary> events = new List<IDictionary>();
            foreach (object item in Req.List(args, "events"))
            {
                IDictionary map = (IDictionary)item;
                Req.NeedLong(map, "id");
                Req.NeedStr(map, "type");
                Req.NeedStr(map, "message");
                events.Add(map);
            }
            if (events.Count == 0)
            {
                return Primitives.D("written", 0L);
            }
            string eventsFile = Req.Str(args, "events_file");
            if (string.IsNullOrEmpty(eventsFile) && ctx.Host.Info.Os != "windows")
            {
                return Primitives.D("written", 0L, "message", "no events file is configured for this host; no event was written");
            }
            return Primitives.D("written", (long)ctx.Host.Product.WriteEvents(events, eventsFile));
        }

        // How to start the scanner again after this stop: the arguments of the request's next start of
        // the same store (a POSIX host's start command differs from its stop command), else the stop's own.
        private static IDictionary StartAfter(Context ctx, string store, IDictionary stop)
        {
            for (int i = ctx.Index + 1; i < ctx.StepList.Count; i++)
            {
                IDictionary step = ctx.StepList[i] as IDictionary;
                IDictionary args = step == null ? null : Req.Get(step, "args") as IDictionary;
                if (args != null && Req.Get(step, "op") as string == "service" && Req.Get(step, "store") as string == store && Req.Get(args, "action") as string == "start")
                {
                    return Copy(args);
                }
            }
            Dictionary<string, object> own = Copy(stop);
            own["action"] = "start";
            return own;
        }

        private static Dictionary<string, object> Copy(IDictionary args)
        {
            Dictionary<string, object> copy = new Dictionary<string, object>();
            foreach (DictionaryEntry item in args)
            {
                copy[(string)item.Key] = item.Value;
            }
            copy.Remove("only_if_stopped_here");
            return copy;
        }

        // the codes of a stop refused before anything was asked of the service
        private static readonly string[] NothingStopped = { "STOP_NOT_RECORDED", "NOT_CONFIGURED", "SERVICE_NOT_FOUND" };

        public static Dictionary<string, object> Service(Context ctx, string store, IDictionary args)
        {
            string action = Req.NeedStr(args, "action");
            if (action == "start" && Req.Bool(args, "only_if_stopped_here", false) && !ctx.Stopped.Contains(store))
            {
                return Primitives.D("exit_code", null, "output", "not run: this request did not stop the scanner", "started", false);
            }
            if (action != "stop")
            {
                IDictionary stopped;
                if (ctx.StartFor.TryGetValue(store, out stopped))
                {
                    args = WithDependents(args, stopped);
                }
                Dictionary<string, object> started = ctx.Host.Services.Act(action, args);
                ctx.Stopped.Remove(store);
                try
                {
                    StopRecord.Clear(ctx.Host, store);
                }
                catch (Exception exception)
                {
                    // the scanner is running: the step is done; the next run starts it again (a no-op) and retries
                    ctx.Warnings.Add("the scanner was started, but its stop record could not be removed: " + Win32Error.InnerMessage(exception));
                }
                return started;
            }
            IDictionary start = StartAfter(ctx, store, args);
            string refused = StopRecord.Write(ctx.Host, store, start);
            if (refused != null)
            {
                throw new Refusal("failed", "the scanner was not stopped: the stop could not be recorded first, so nothing could start it again if this run died (" + refused + ")", "STOP_NOT_RECORDED", null);
            }
            Dictionary<string, object> data;
            try
            {
                data = ctx.Host.Services.Act(action, args);
            }
            catch (Refusal refusal)
            {
                if (Array.IndexOf(NothingStopped, refusal.Code) >= 0)
                {
                    StopRecord.Clear(ctx.Host, store);
                }
                else
                {
                    // a stop that timed out or failed midway: the scanner may still be stopping; the start runs
                    ctx.Stopped.Add(store);
                    ctx.StartFor[store] = start;
                }
                throw;
            }
            catch (Exception)
            {
                ctx.Stopped.Add(store);
                ctx.StartFor[store] = start;
                throw;
            }
            if (data.ContainsKey("stopped") && data["stopped"] is bool && !(bool)data["stopped"])
            {
                StopRecord.Clear(ctx.Host, store);  // it was not running: an administrator's choice, left as it is
                return data;
            }
            if (data.ContainsKey("dependents"))
            {
                // the services stopped with the scanner are started with it (and by the record, if this run dies)
                start = WithDependents(start, data);
                StopRecord.Write(ctx.Host, store, start);
            }
            ctx.Stopped.Add(store);
            ctx.StartFor[store] = start;
            return data;
        }

        // `args` with the dependents `from` names added to its own
        private static IDictionary WithDependents(IDictionary args, IDictionary from)
        {
            List<object> names = new List<object>(Req.List(args, "dependents"));
            foreach (object name in Req.List(from, "dependents"))
            {
                if (name is string && !names.Contains(name))
                {
                    names.Add(name);
                }
            }
            Dictionary<string, object> merged = Copy(args);
            merged["dependents"] = names;
            return merged;
        }
    }

    // run_liveupdate: LuALL.exe on Windows (the first candidate that exists), the configured command
    // elsewhere, bounded by `timeout`. The exit code only: the controller judges it.
    public static class LiveUpdate
    {
        public const int MaxOutput = 4096;
        public const int MaxProgram = 1024;

        public static Dictionary<string, object> Run(IDictionary request, IHost host)
        {
            Dictionary<string, object> reply = new Dictionary<string, object>();
            reply["result"] = "not_found";
            reply["exit_code"] = null;
            reply["duration"] = 0.0;
            reply["program"] = null;
            reply["output"] = "";
            int timeout = (int)Req.NeedLong(request, "timeout");
            string program = null;
            List<string> arguments = new List<string>();
            if (host.Info.Os == "windows")
            {
                List<string> tried = new List<string>();
                foreach (object candidate in Req.List(request, "luall_candidates"))
                {
                    string path = Probe.Expand((string)candidate, host);
                    tried.Add(path);
                    Entry found = host.Files.StatFollow(path);
                    if (found != null && found.Kind == "file")
                    {
                        program = path;
                        break;
                    }
                }
                if (program == null)
                {
                    reply["output"] = Text.Head("LuALL.exe was not found at " + string.Join("; ", tried.ToArray()), MaxOutput);
                    return reply;
                }
                foreach (object argument in Req.List(request, "arguments"))
                {
                    arguments.Add((string)argument);
                }
            }
            else
            {
                List<object> command = Req.List(request, "command");
                if (command.Count == 0)
                {
                    reply["output"] = "no LiveUpdate command is configured for this POSIX host (liveupdate_command)";
                    return reply;
                }
                program = (string)command[0];
                for (int i = 1; i < command.Count; i++)
                {
                    arguments.Add((string)command[i]);
                }
            }
            reply["program"] = Text.Head(program, MaxProgram);
            RunResult run = host.Processes.Run(program, arguments, timeout, MaxOutput);
            if (!run.Started)
            {
                reply["result"] = "failed";
                reply["output"] = Text.Head(program + " could not be started: " + run.Error, MaxOutput);
                return reply;
            }
            reply["duration"] = Math.Round(run.Seconds, 3);
            reply["output"] = Text.Tail(run.Output ?? "", MaxOutput);
            if (run.TimedOut)
            {
                reply["result"] = "timeout";
                string note = string.Format(CultureInfo.InvariantCulture, "{0} did not finish within {1} s; it and the processes it started were stopped", program, timeout);
                reply["output"] = Text.Tail((string)reply["output"] + note, MaxOutput);
            }
            else
            {
                reply["exit_code"] = (long)run.ExitCode;
                reply["result"] = "exited";
            }
            return reply;
        }
    }
}
