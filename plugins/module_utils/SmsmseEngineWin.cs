// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine
//
// The Windows host of the engine: the thin layer over Win32 (StoreNative.cs) and the .NET calls
// only Windows answers (the registry, the Application log, services, ACLs). This is the only
// part of the agent mono cannot run; keep it to calls, with no rule of its own (the rules are in
// SmsmseEngine*.cs and StorePolicy.cs, executed in the tests).

using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Text;
using System.Threading;
using Microsoft.Win32;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine;
using ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative;
using ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy;

namespace ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineWin
{
    public static class Hosts
    {
        // The Windows host; `runtime` names the PowerShell and .NET versions (for the facts).
        public static IHost Windows(string runtime)
        {
            return new WindowsHost(runtime);
        }
    }

    public sealed class WinFiles : IFileSystem
    {
        private const int RetrySeconds = 10;
        private static readonly long Epoch = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

        private Entry From(FileSystemInfo info, bool stamp)
        {
            Entry entry = new Entry();
            entry.Name = info.Name;
            entry.Kind = Kinds.Of(info.Attributes);
            entry.LinkToDir = entry.Kind == "link" && (info.Attributes & FileAttributes.Directory) != 0;
            entry.ReadOnly = (info.Attributes & FileAttributes.ReadOnly) != 0;
            FileInfo file = info as FileInfo;
            entry.Size = file != null && entry.Kind == "file" ? file.Length : 0;
            long ticks = info.LastWriteTimeUtc.Ticks - Epoch;
            entry.MtimeSeconds = ticks / TimeSpan.TicksPerSecond;
            entry.MtimeNanos = (ticks % TimeSpan.TicksPerSecond) * 100;
            if (!stamp)
            {
                return entry;
            }
            try
            {
                FileStamp read = Native.StampOf(info.FullName);
                entry.FileId = read.FileId;
                entry.Volume = read.FileId.Substring(0, read.FileId.IndexOf(':'));
                entry.Stamp = read.Usn < 0 ? null : Usn.ChangeStamp(Journal(info.FullName, entry.Volume), read.Usn, read.ChangeTime);
            }
            catch (Exception)
            {
                entry.FileId = null;
                entry.Stamp = null;
            }
            return entry;
        }

        // the change journal of each volume: USNs start again in a new journal, so the stamp names it. Known
        // for one call only (a host per call): a reused PSRP runspace must not keep a journal that was replaced.
        private readonly Dictionary<string, ulong> journals = new Dictionary<string, ulong>(StringComparer.OrdinalIgnoreCase);

        private ulong Journal(string path, string volume)
        {
            ulong id;
            if (!journals.TryGetValue(volume, out id))
            {
                id = Native.JournalId(path);
                journals[volume] = id;
            }
            return id;
        }

        private static FileSystemInfo Info(string path)
        {
            FileAttributes attributes;
            try
            {
                attributes = File.GetAttributes(path);
            }
            catch (FileNotFoundException)
            {
                return null;
            }
            catch (DirectoryNotFoundException)
            {
                return null;
            }
            return (attributes & FileAttributes.Directory) != 0 ? (FileSystemInfo)new DirectoryInfo(path) : new FileInfo(path);
        }

        public Entry Stat(string path)
        {
            try
            {
                FileSystemInfo info = Info(path);
                return info == null ? null : From(info, true);
            }
            catch (Exception exception)
            {
                throw WinErrors.Map(exception, path);
            }
        }

        public Entry StatFollow(string path)
        {
            Entry entry = Stat(path);
            if (entry == null || entry.Kind != "link")
            {
                return entry;
            }
            try
            {
                if (!Directory.Exists(path) && !File.Exists(path))
                {
                    return null;
                }
                entry.Kind = Directory.Exists(path) ? "dir" : "file";
                entry.Volume = Native.VolumeOf(path);
                return entry;
            }
            catch (Exception exception)
            {
                throw WinErrors.Map(exception, path);
            }
        }

        public IList<Entry> List(string folder)
        {
            List<Entry> found = new List<Entry>();
            try
            {
                foreach (FileSystemInfo info in new DirectoryInfo(folder).EnumerateFileSystemInfos())
                {
                    if (!Names.IsComponent(info.Name))
                    {
                        // a plain path drops a trailing dot or space (`...` is the folder itself again) or opens a device
                        throw new HostException(Win32Error.InvalidName, "an entry is named \"" + info.Name + "\", which a Windows path cannot address (a trailing dot or space, or a device name); it is never entered: rename or remove it with its \\\\?\\ path", folder);
                    }
                    found.Add(From(info, false));
                }
            }
            catch (Exception exception)
            {
                throw WinErrors.Map(exception, folder);
            }
            return found;
        }

        public Stream OpenRead(string path)
        {
            try
            {
                return Native.OpenShared(path, 1 << 20);
            }
            catch (Exception exception)
            {
                throw WinErrors.Map(exception, path);
            }
        }

        // A path that cannot hold a short name is never looked up; one whose expansion fails (access denied
        // above the store) is reported as given, and the store's own checks say what is wrong with it.
        public string LongName(string path)
        {
            if (!ShortNames.Maybe(path))
            {
                return path;
            }
            try
            {
                return Native.LongName(path);
            }
            catch (Exception)
            {
                return path;
            }
        }

        public bool WriterPresent(string path)
        {
            try
            {
                return Native.WriterPresent(path);
            }
            catch (Exception exception)
            {
                throw WinErrors.Map(exception, path);
            }
        }

        public Stream CreateNew(string path)
        {
            try
            {
                return new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.WriteThrough);
            }
            catch (Exception exception)
            {
                throw WinErrors.Map(exception, path);
            }
        }

        public void ProbeWritable(string path)
        {
            try
            {
                if ((File.GetAttributes(path) & FileAttributes.ReadOnly) != 0)
                {
                    // a read-only file refuses a write open; the engine clears the attribute and replaces it,
                    // so what it needs is the right to change attributes and to delete
                    new FileStream(path, FileMode.Open, System.Security.AccessControl.FileSystemRights.WriteAttributes | System.Security.AccessControl.FileSystemRights.Delete, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None).Dispose();
                    return;
                }
                new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete).Dispose();
            }
            catch (Exception exception)
            {
                throw WinErrors.Map(exception, path);
            }
        }

        public void CreateFolder(string path)
        {
            if (Stat(path) != null)
            {
                throw new HostException(Codes.AlreadyExists, "already exists", path);
            }
            try
            {
                Directory.CreateDirectory(path);
            }
            catch (Exception exception)
            {
                throw WinErrors.Map(exception, path);
            }
        }

        public void Move(string from, string to)
        {
            try
            {
                Native.Move(from, to, 0);
            }
            catch (Exception exception)
            {
                throw WinErrors.Map(exception, from);
            }
        }

        public void Replace(string replacement, string target)
        {
            bool there = Stat(target) != null;
            try
            {
                if (!there)
                {
                    Native.Move(replacement, target, 0);
                }
                else
                {
                    Native.Replace(target, replacement, 0);
                }
            }
            catch (Exception exception)
            {
                throw WinErrors.Map(exception, target);
            }
        }

        public void Delete(string path)
        {
            // File.Delete says nothing when the file is not there: the engine is told, as by the managed host
            Entry entry = Stat(path);
            if (entry == null)
            {
                throw new HostException(Codes.FileNotFound, "no such file", path);
            }
            if (entry.Kind == "dir")
            {
                throw new HostException(Codes.AccessDenied, "a folder is not a file", path);
            }
            try
            {
                if (entry.LinkToDir)
                {
                    // a junction or a link to a folder: RemoveDirectory on the link itself, never what it leads to
                    Directory.Delete(path, false);
                }
                else
                {
                    File.Delete(path);
                }
            }
            catch (Exception exception)
            {
                throw WinErrors.Map(exception, path);
            }
        }

        public void DeleteFolder(string path)
        {
            try
            {
                Directory.Delete(path, false);
            }
            catch (Exception exception)
            {
                throw WinErrors.Map(exception, path);
            }
        }

        public void MakeWritable(string path)
        {
            try
            {
                File.SetAttributes(path, File.GetAttributes(path) & ~FileAttributes.ReadOnly);
            }
            catch (Exception exception)
            {
                throw WinErrors.Map(exception, path);
            }
        }

        public void CopyTimes(string source, string target)
        {
            try
            {
                // GetLastWriteTimeUtc answers 1601 for a file that is not there
                if (!File.Exists(source))
                {
                    throw new HostException(Codes.FileNotFound, "no such file", source);
                }
                File.SetLastWriteTimeUtc(target, File.GetLastWriteTimeUtc(source));
            }
            catch (Exception exception)
            {
                throw WinErrors.Map(exception, target);
            }
        }

        public long? FreeBytes(string path)
        {
            return Native.FreeBytes(path);
        }

        public string RealPath(string path)
        {
            try
            {
                return Native.FinalPath(path);
            }
            catch (Exception exception)
            {
                throw WinErrors.Map(exception, path);
            }
        }

        public void Flush(string folder)
        {
        }

        public string PrivateFolder(string path, bool create)
        {
            return CacheFolder.Ensure(path, create);
        }

        public string PrivateFile(string path)
        {
            return CacheFolder.TrustedFile(path) ? null : "the cache file " + path + " is not owned by a trusted account; every file is read";
        }

        public void WritePrivate(string path, byte[] data)
        {
            string temp = path + "." + Process.GetCurrentProcess().Id.ToString(CultureInfo.InvariantCulture) + ".tmp";
            try
            {
                File.WriteAllBytes(temp, data);
            }
            catch (Exception exception)
            {
                throw WinErrors.Map(exception, temp);
            }
            Replace(temp, path);
        }
    }

    // The one-time scheduled task that starts the scanner if the run that stopped it dies: sc.exe by its
    // full path, the service name quoted, expiring a day after it is due and then deleted by the Task
    // Scheduler, so it never starts a service an administrator stopped later. null for a name with a quote.
    public static class StartTask
    {
        public static string Xml(string service, DateTime due, string system32)
        {
            if (string.IsNullOrEmpty(service) || service.IndexOf('"') >= 0)
            {
                return null;
            }
            string format = "yyyy-MM-dd'T'HH:mm:ss";
            return "<?xml version=\"1.0\" encoding=\"UTF-16\"?><Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">"
                + "<Triggers><TimeTrigger><StartBoundary>" + due.ToString(format, CultureInfo.InvariantCulture) + "</StartBoundary>"
                + "<EndBoundary>" + due.AddDays(1).ToString(format, CultureInfo.InvariantCulture) + "</EndBoundary><Enabled>true</Enabled></TimeTrigger></Triggers>"
                + "<Principals><Principal id=\"Author\"><UserId>S-1-5-18</UserId><RunLevel>HighestAvailable</RunLevel></Principal></Principals>"
                + "<Settings><StartWhenAvailable>true</StartWhenAvailable><DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries><StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>"
                + "<DeleteExpiredTaskAfter>PT0S</DeleteExpiredTaskAfter></Settings>"
                + "<Actions Context=\"Author\"><Exec><Command>" + System.Security.SecurityElement.Escape(system32.TrimEnd('\\') + "\\sc.exe") + "</Command>"
                + "<Arguments>" + System.Security.SecurityElement.Escape("start \"" + service + "\"") + "</Arguments></Exec></Actions></Task>";
        }
    }

    // What .NET and Win32 throw on Windows, as the HostException the engine decides by: the Win32
    // error an exception carries (Win32Exception.NativeErrorCode, a FACILITY_WIN32 HResult, or the
    // type .NET uses for it); a bad path is ERROR_INVALID_NAME; anything else ERROR_IO_DEVICE with its message.
    public static class WinErrors
    {
        public const int IoDevice = 1117;

        public static HostException Map(Exception exception, string path)
        {
            HostException host = exception as HostException;
            if (host != null)
            {
                return host;
            }
            int code = exception is ArgumentException || exception is NotSupportedException ? Win32Error.InvalidName : Win32Error.FromException(exception);
            string message = Win32Error.InnerMessage(exception);
            if (code == 0)
            {
                code = IoDevice;
                message = exception.GetType().Name + ": " + message;
            }
            return new HostException(code, message, path);
        }
    }

    public sealed class WinProcesses : IProcesses
    {
        public int CurrentId
        {
            get { return Process.GetCurrentProcess().Id; }
        }

        public string HostName
        {
            get { return Environment.MachineName; }
        }

        public string BootId
        {
            get { return null; }
        }

        public double BootTime
        {
            get { return Native.BootTimeUnix(); }
        }

        public bool Alive(int pid)
        {
            try
            {
                using (Process found = Process.GetProcessById(pid))
                {
                    return !found.HasExited;
                }
            }
            catch (ArgumentException)
            {
                return false;
            }
            catch (InvalidOperationException)
            {
                return false;
            }
        }

        // The creation time the kernel keeps for the process (GetProcessTimes, through Process.StartTime);
        // a process that ended or that this account may not open has none to compare
        public string StartToken(int pid)
        {
            try
            {
                using (Process found = Process.GetProcessById(pid))
                {
                    return "created:" + found.StartTime.ToFileTimeUtc().ToString(CultureInfo.InvariantCulture);
                }
            }
            catch (Exception)
            {
                return null;
            }
        }

        public string Which(string program)
        {
            return File.Exists(program) ? program : null;
        }

        public SmsmseEngine.RunResult Run(string program, IList<string> arguments, int timeoutSeconds, int tailChars)
        {
            SmsmseEngine.RunResult result = new SmsmseEngine.RunResult();
            StoreNative.RunResult run;
            try
            {
                run = Processes.Run(program, new List<string>(arguments).ToArray(), timeoutSeconds, tailChars);
            }
            catch (Exception exception)
            {
                result.Error = Win32Error.InnerMessage(exception);
                return result;
            }
            result.Started = true;
            result.Exited = run.Exited;
            result.TimedOut = run.TimedOut;
            result.ExitCode = run.ExitCode;
            result.Output = run.Output ?? "";
            result.Seconds = run.Seconds;
            return result;
        }
    }

    public sealed class WinClock : IClock
    {
        public double Now
        {
            get { return (DateTime.UtcNow - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc)).TotalSeconds; }
        }

        public void Sleep(int milliseconds)
        {
            Thread.Sleep(milliseconds);
        }
    }

    // The product from the Uninstall keys (64- and 32-bit views), its events from the Application log.
    public sealed class WinProduct : IProduct
    {
        public const string ProductName = "Symantec Mail Security for Microsoft Exchange";
        public const string EventSource = "mailsec.smsmse";
        private const string UninstallKey = @"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall";

        public Dictionary<string, object> Read(IDictionary request)
        {
            foreach (RegistryView view in new RegistryView[] { RegistryView.Registry64, RegistryView.Registry32 })
            {
                using (RegistryKey hive = RegistryKey.OpenBaseKey(RegistryHive.LocalMachine, view))
                using (RegistryKey uninstall = hive.OpenSubKey(UninstallKey))
                {
                    if (uninstall == null)
                    {
                        continue;
                    }
                    string[] names = uninstall.GetSubKeyNames();
                    Array.Sort(names, StringComparer.Ordinal);
                    foreach (string name in names)
                    {
                        string displayName, displayVersion;
                        try
                        {
                            using (RegistryKey sub = uninstall.OpenSubKey(name))
                            {
                                if (sub == null)
                                {
                                    continue;
                                }
                                displayName = Convert.ToString(sub.GetValue("DisplayName", ""), CultureInfo.InvariantCulture);
                                displayVersion = Convert.ToString(sub.GetValue("DisplayVersion", ""), CultureInfo.InvariantCulture);
                            }
                        }
                        catch (Exception)
                        {
                            continue;
                        }
                        if (displayName.StartsWith(ProductName, StringComparison.OrdinalIgnoreCase))
                        {
                            Dictionary<string, object> product = new Dictionary<string, object>();
                            product["name"] = Text.Head(displayName, 256);
                            product["version"] = Text.Head(displayVersion, 64);
                            product["source"] = Text.Head(string.Format(CultureInfo.InvariantCulture, @"HKLM\{0}\{1} ({2})", UninstallKey, name, view), 512);
                            return product;
                        }
                    }
                }
            }
            return null;
        }

        private static readonly string[] RelevantWords = { "Symantec", "Mail Security", "SMSMSE" };
        private const int MaxListed = 256;

        private static bool Relevant(string text)
        {
            if (string.IsNullOrEmpty(text))
            {
                return false;
            }
            foreach (string word in RelevantWords)
            {
                if (text.IndexOf(word, StringComparison.OrdinalIgnoreCase) >= 0)
                {
                    return true;
                }
            }
            return false;
        }

        private static string Value(RegistryKey key, string name)
        {
            return Convert.ToString(key.GetValue(name, ""), CultureInfo.InvariantCulture);
        }

        // The raw listings the controller picks the product and its service from (plugin_utils/_host/installed.py):
        // Uninstall entries of both registry views whose DisplayName mentions Symantec or Mail Security, and the
        // services whose name, display name or binary path does. An entry that cannot be read is skipped.
        public Dictionary<string, object> Installed()
        {
            List<object> uninstall = new List<object>();
            foreach (RegistryView view in new RegistryView[] { RegistryView.Registry64, RegistryView.Registry32 })
            {
                using (RegistryKey hive = RegistryKey.OpenBaseKey(RegistryHive.LocalMachine, view))
                using (RegistryKey keys = hive.OpenSubKey(UninstallKey))
                {
                    if (keys == null)
                    {
                        continue;
                    }
                    foreach (string name in keys.GetSubKeyNames())
                    {
                        if (uninstall.Count >= MaxListed)
                        {
                            break;
                        }
                        try
                        {
                            using (RegistryKey sub = keys.OpenSubKey(name))
                            {
                                if (sub == null || !Relevant(Value(sub, "DisplayName")))
                                {
                                    continue;
                                }
                                Dictionary<string, object> entry = new Dictionary<string, object>();
                                entry["view"] = view == RegistryView.Registry64 ? "64" : "32";
                                entry["key"] = Text.Head(name, 256);
                                entry["display_name"] = Text.Head(Value(sub, "DisplayName"), 512);
                                entry["display_version"] = Text.Head(Value(sub, "DisplayVersion"), 64);
                                entry["install_location"] = Text.Head(Value(sub, "InstallLocation"), 1024);
                                uninstall.Add(entry);
                            }
                        }
                        catch (Exception)
                        {
                            continue;
                        }
                    }
                }
            }
            List<object> services = new List<object>();
            try
            {
                using (RegistryKey all = Registry.LocalMachine.OpenSubKey(@"SYSTEM\CurrentControlSet\Services"))
                {
                    foreach (string name in all == null ? new string[0] : all.GetSubKeyNames())
                    {
                        if (services.Count >= MaxListed)
                        {
                            break;
                        }
                        using (RegistryKey sub = all.OpenSubKey(name))
                        {
                            if (sub == null || sub.GetValue("ImagePath") == null)
                            {
                                continue;
                            }
                            string display = Value(sub, "DisplayName");
                            string binary = Value(sub, "ImagePath");
                            if (!Relevant(name) && !Relevant(display) && !Relevant(binary))
                            {
                                continue;
                            }
                            Dictionary<string, object> service = new Dictionary<string, object>();
                            service["name"] = Text.Head(name, 256);
                            service["display_name"] = Text.Head(display, 512);
                            service["binary_path"] = Text.Head(binary, 2048);
                            service["state"] = WinServices.StateOf(name);
                            services.Add(service);
                        }
                    }
                }
            }
            catch (Exception)
            {
                // the services stay unlisted: the controller then relies on the Uninstall entries
            }
            Dictionary<string, object> listing = new Dictionary<string, object>();
            listing["uninstall"] = uninstall;
            listing["services"] = services;
            return listing;
        }

        public List<object> Events(IDictionary request, int limit, out string error)
        {
            error = null;
            List<object> found = new List<object>();
            if (limit <= 0 || Req.List(request, "event_ids").Count == 0)
            {
                return found;
            }
            HashSet<long> wanted = new HashSet<long>();
            foreach (object id in Req.List(request, "event_ids"))
            {
                wanted.Add(Convert.ToInt64(id, CultureInfo.InvariantCulture));
            }
            DateTime since = DateTime.UtcNow.AddHours(-Req.NeedLong(request, "event_hours"));
            try
            {
                // newest first, read back from the end of the log until the window is left
                using (EventLog log = new EventLog("Application"))
                {
                    EventLogEntryCollection entries = log.Entries;
                    for (int i = entries.Count - 1; i >= 0 && found.Count < limit; i--)
                    {
                        EventLogEntry entry = entries[i];
                        DateTime when = entry.TimeGenerated.ToUniversalTime();
                        if (when < since)
                        {
                            break;
                        }
                        long id = entry.InstanceId & 0xFFFF;
                        if (entry.Source != ProductName || !wanted.Contains(id))
                        {
                            continue;
                        }
                        Dictionary<string, object> item = new Dictionary<string, object>();
                        item["id"] = id;
                        item["time"] = when.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
                        item["message"] = Text.Head(entry.Message ?? "", 4096);
                        found.Add(item);
                    }
                }
            }
            catch (Exception exception)
            {
                error = "cannot read the Application log: " + Win32Error.InnerMessage(exception);
            }
            return found;
        }

        public int WriteEvents(IList<IDictionary> events, string eventsFile)
        {
            if (!EventLog.SourceExists(EventSource))
            {
                EventLog.CreateEventSource(EventSource, "Application");
            }
            foreach (IDictionary e in events)
            {
                EventLogEntryType type = (EventLogEntryType)Enum.Parse(typeof(EventLogEntryType), Req.NeedStr(e, "type"));
                EventLog.WriteEntry(EventSource, Text.Head(Req.NeedStr(e, "message"), 4096), type, (int)Req.NeedLong(e, "id"));
            }
            return events.Count;
        }
    }

    // The scanner's service through System.ServiceProcess (loaded by name: the engine compiles with
    // System and System.Core only), its dependents stopped first and started again after it.
    public sealed class WinServices : IServices
    {
        private const string Assembly = "System.ServiceProcess, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b03f5f7f11d50a3a";
        private readonly Type controllerType;
        private readonly Type statusType;

        public WinServices()
        {
            Assembly loaded = System.Reflection.Assembly.Load(Assembly);
            controllerType = loaded.GetType("System.ServiceProcess.ServiceController", true);
            statusType = loaded.GetType("System.ServiceProcess.ServiceControllerStatus", true);
        }

        // A service's state as Win32_Service says it ("Running", "Stopped", ...), or null when it cannot be read.
        public static string StateOf(string name)
        {
            try
            {
                WinServices services = new WinServices();
                string status = services.Status(Activator.CreateInstance(services.controllerType, name));
                switch (status)
                {
                    case "StartPending": return "Start Pending";
                    case "StopPending": return "Stop Pending";
                    case "ContinuePending": return "Continue Pending";
                    case "PausePending": return "Pause Pending";
                    default: return Text.Head(status, 32);
                }
            }
            catch (Exception)
            {
                return null;
            }
        }

        public IList<string> Holders(string folder)
        {
            List<string> files = new List<string>();
            Collect(new DirectoryInfo(folder), files);
            return Holders_(files);
        }

        private static IList<string> Holders_(List<string> files)
        {
            return StorePolicy.Holders.Names(RestartManager.HoldersOf(files));
        }

        private static void Collect(DirectoryInfo folder, List<string> files)
        {
            if (!folder.Exists || (folder.Attributes & FileAttributes.ReparsePoint) != 0)
            {
                return;
            }
            foreach (FileSystemInfo info in folder.EnumerateFileSystemInfos())
            {
                if ((info.Attributes & FileAttributes.ReparsePoint) != 0)
                {
                    continue;
                }
                DirectoryInfo sub = info as DirectoryInfo;
                if (sub != null)
                {
                    Collect(sub, files);
                }
                else
                {
                    files.Add(info.FullName);
                }
            }
        }

        // the service's own name (ServiceController also accepts its display name; sc.exe does not)
        private string ServiceName(object service)
        {
            return Convert.ToString(controllerType.GetProperty("ServiceName").GetValue(service, null), CultureInfo.InvariantCulture);
        }

        private object Controller(string name)
        {
            object service = Activator.CreateInstance(controllerType, name);
            try
            {
                Status(service);
            }
            catch (Exception)
            {
                throw new Refusal("failed", "there is no service " + name + " on this host", "SERVICE_NOT_FOUND", null);
            }
            return service;
        }

        private string Status(object service)
        {
            controllerType.GetMethod("Refresh").Invoke(service, null);
            return Convert.ToString(controllerType.GetProperty("Status").GetValue(service, null), CultureInfo.InvariantCulture);
        }

        private void Wait(object service, string status, int seconds, string name, string action)
        {
            try
            {
                controllerType.GetMethod("WaitForStatus", new Type[] { statusType, typeof(TimeSpan) }).Invoke(service, new object[] { Enum.Parse(statusType, status), TimeSpan.FromSeconds(seconds) });
            }
            catch (TargetInvocationException exception)
            {
                Dictionary<string, object> data = new Dictionary<string, object>();
                data["exit_code"] = null;
                data["output"] = Status(service);
                throw new Refusal("timeout", string.Format(CultureInfo.InvariantCulture, "{0} did not {1} within {2} s; it is {3}: {4}", name, action, seconds, data["output"], exception.InnerException.Message), "SERVICE_TIMEOUT", data);
            }
        }

        private void Call(object service, string method)
        {
            controllerType.GetMethod(method, Type.EmptyTypes).Invoke(service, null);
        }

        // The host itself starts the service again if the agent dies while it is stopped: a one-shot
        // scheduled task (SYSTEM) registered before the stop, due after the longest the change may
        // take, and removed once the service is started again. (The agent's own stop record is the
        // first line: the next call starts it; this task is for a host nobody calls again soon.)
        private static string TaskName(string service)
        {
            return @"\mailsec-smsmse\start-" + service;
        }

        private static string System32
        {
            get { return Environment.GetFolderPath(Environment.SpecialFolder.System); }
        }

        private static void Guard(string service, int timeout)
        {
            string xml = StartTask.Xml(service, DateTime.Now.AddSeconds(2 * timeout + 900), System32);
            if (xml == null)
            {
                throw new Refusal("failed", "the scanner was not stopped: its service name " + service + " cannot be put on sc.exe's command line", "STOP_NOT_RECORDED", null);
            }
            string file = Path.Combine(Path.GetTempPath(), "mailsec-smsmse-start-" + Guid.NewGuid().ToString("N") + ".xml");
            File.WriteAllText(file, xml, Encoding.Unicode);
            try
            {
                StoreNative.RunResult run = Processes.Run(Path.Combine(System32, "schtasks.exe"), new string[] { "/Create", "/F", "/TN", TaskName(service), "/XML", file }, 60, 2000);
                if (!run.Exited || run.ExitCode != 0)
                {
                    throw new Refusal("failed", "the scanner was not stopped: the task that starts it again if this run dies could not be registered: " + run.Output, "STOP_NOT_RECORDED", null);
                }
            }
            finally
            {
                File.Delete(file);
            }
        }

        // null when the task is gone; else why it could not be removed
        private static string Unguard(string service)
        {
            StoreNative.RunResult run = Processes.Run(Path.Combine(System32, "schtasks.exe"), new string[] { "/Delete", "/F", "/TN", TaskName(service) }, 60, 2000);
            if (run.Exited && run.ExitCode == 0)
            {
                return null;
            }
            return "the scheduled task " + TaskName(service) + " that starts " + service + " if a run dies could not be removed (remove it with schtasks /Delete): " + run.Output;
        }

        public Dictionary<string, object> Act(string action, IDictionary args)
        {
            Dictionary<string, object> data = Service(action, args);
            if (action == "start")
            {
                string left = Unguard(ServiceName(Controller(Req.Str(args, "service"))));
                if (left != null)
                {
                    List<object> warnings = data.ContainsKey("warnings") ? (List<object>)data["warnings"] : new List<object>();
                    warnings.Add(left);
                    data["warnings"] = warnings;
                }
            }
            return data;
        }

        private Dictionary<string, object> Service(string action, IDictionary args)
        {
            string name = Req.Str(args, "service");
            if (string.IsNullOrEmpty(name))
            {
                throw new Refusal("failed", "no service name was given", "NOT_CONFIGURED", null);
            }
            int timeout = (int)Req.NeedLong(args, "timeout");
            object service = Controller(name);
            Dictionary<string, object> data = new Dictionary<string, object>();
            data["exit_code"] = null;
            List<object> dependents = new List<object>();
            foreach (object name_ in Req.List(args, "dependents"))
            {
                dependents.Add(name_);
            }
            if (action == "stop")
            {
                if (Status(service) == "Stopped")
                {
                    data["output"] = name + ": Stopped (it was not running: this request will not start it)";
                    data["stopped"] = false;
                    data["started"] = false;
                    data["dependents"] = dependents;
                    return data;
                }
                foreach (object dependent in (IEnumerable)controllerType.GetProperty("DependentServices").GetValue(service, null))
                {
                    if (Status(dependent) == "Running")
                    {
                        dependents.Add(Convert.ToString(controllerType.GetProperty("ServiceName").GetValue(dependent, null), CultureInfo.InvariantCulture));
                    }
                }
                Guard(ServiceName(service), timeout);
                foreach (object dependent in dependents)
                {
                    object other = Controller((string)dependent);
                    if (Status(other) != "Stopped")
                    {
                        if (Status(other) != "StopPending")
                        {
                            Call(other, "Stop");
                        }
                        Wait(other, "Stopped", timeout, (string)dependent, "stop");
                    }
                }
                if (Status(service) != "Stopped")
                {
                    if (Status(service) != "StopPending")
                    {
                        Call(service, "Stop");
                    }
                    Wait(service, "Stopped", timeout, name, "stop");
                }
                data["output"] = name + ": Stopped";
                data["stopped"] = true;
                data["started"] = false;
                data["dependents"] = dependents;
                return data;
            }
            if (Status(service) == "StopPending")
            {
                Wait(service, "Stopped", timeout, name, "stop");
            }
            if (Status(service) != "Running")
            {
                if (Status(service) != "StartPending")
                {
                    Call(service, "Start");
                }
                Wait(service, "Running", timeout, name, "start");
            }
            List<object> warnings = new List<object>();
            foreach (object dependent in dependents)
            {
                try
                {
                    object other = Controller((string)dependent);
                    if (Status(other) != "Running")
                    {
                        if (Status(other) != "StartPending")
                        {
                            Call(other, "Start");
                        }
                        Wait(other, "Running", timeout, (string)dependent, "start");
                    }
                }
                catch (Exception exception)
                {
                    warnings.Add(dependent + " depends on " + name + " and was running before the change; it did not start again: " + Win32Error.InnerMessage(exception));
                }
            }
            data["output"] = name + ": " + Status(service);
            data["started"] = true;
            data["dependents"] = dependents;
            if (warnings.Count > 0)
            {
                data["warnings"] = warnings;
            }
            return data;
        }
    }

    public sealed class WindowsHost : IHost
    {
        private readonly HostInfo info = new HostInfo();
        private readonly IFileSystem files = new WinFiles();
        private readonly IProcesses processes = new WinProcesses();
        private readonly IClock clock = new WinClock();
        private readonly IProduct product = new WinProduct();
        private readonly Administrators administrators = new Administrators();
        private IServices services;
        private readonly string runtime;
        public string Runtime { get { return runtime; } }

        public WindowsHost(string runtime)
        {
            this.runtime = runtime;
            info.Os = "windows";
            info.OsVersion = Environment.OSVersion.Version.ToString();
            info.Arch = Environment.Is64BitOperatingSystem ? "amd64" : "x86";
            info.HostName = Environment.MachineName;
            info.DefaultCacheDir = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.CommonApplicationData), "mailsec-smsmse", "hashes");
            info.StateDir = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.CommonApplicationData), "mailsec-smsmse", "state");
        }

        public HostInfo Info { get { return info; } }
        public IFileSystem Files { get { return files; } }
        public IProcesses Processes { get { return processes; } }
        public IClock Clock { get { return clock; } }
        public IProduct Product { get { return product; } }
        public IDownloads Downloads { get { return null; } }

        public IServices Services
        {
            get
            {
                if (services == null)
                {
                    services = new WinServices();
                }
                return services;
            }
        }

        public string Env(string name)
        {
            return Environment.GetEnvironmentVariable(name);
        }

        public Dictionary<string, object> Privacy(string path, IDictionary policy)
        {
            return PrivacyPolicy.From(policy).Record(path, delegate { return PrivateFolder.Inspect(path); }, administrators.Has, PrivateFolder.AccountOf);
        }
    }

    // Whether an account is a member of the local Administrators group, directly (NetLocalGroupGetMembers,
    // level 0) or through a group (NetUserGetLocalGroups with LG_INCLUDE_INDIRECT: an admin who is one
    // through Domain Admins). Answers are kept for one call (an instance per host): a reused PSRP runspace
    // never sees a membership that was removed since. What cannot be read is no membership.
    public sealed class Administrators
    {
        [System.Runtime.InteropServices.DllImport("netapi32.dll", CharSet = System.Runtime.InteropServices.CharSet.Unicode, SetLastError = true)]
        private static extern int NetLocalGroupGetMembers(string server, string group, int level, out IntPtr buffer, int max, out int read, out int total, IntPtr resume);

        [System.Runtime.InteropServices.DllImport("netapi32.dll", CharSet = System.Runtime.InteropServices.CharSet.Unicode, SetLastError = true)]
        private static extern int NetUserGetLocalGroups(string server, string user, int level, int flags, out IntPtr buffer, int max, out int read, out int total);

        [System.Runtime.InteropServices.DllImport("netapi32.dll", SetLastError = true)]
        private static extern int NetApiBufferFree(IntPtr buffer);

        private const int IncludeIndirect = 1;
        private const int PreferredLength = -1;
        private readonly Dictionary<string, bool> known = new Dictionary<string, bool>(StringComparer.OrdinalIgnoreCase);
        private HashSet<string> direct;
        private string group;

        public bool Has(string sid)
        {
            bool member;
            if (known.TryGetValue(sid, out member))
            {
                return member;
            }
            if (direct == null)
            {
                group = Unqualified(Account(StorePolicy.Privacy.Administrators));
                direct = Direct(group);
            }
            member = direct.Contains(sid) || Indirect(sid, group);
            known[sid] = member;
            return member;
        }

        private static string Account(string sid)
        {
            return new System.Security.Principal.SecurityIdentifier(sid).Translate(typeof(System.Security.Principal.NTAccount)).Value;
        }

        private static string Unqualified(string account)
        {
            int cut = account.IndexOf('\\');
            return cut >= 0 ? account.Substring(cut + 1) : account;
        }

        private static HashSet<string> Direct(string group)
        {
            HashSet<string> found = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            IntPtr buffer = IntPtr.Zero;
            int read, total;
            try
            {
                if (NetLocalGroupGetMembers(null, group, 0, out buffer, PreferredLength, out read, out total, IntPtr.Zero) != 0)
                {
                    return found;
                }
                for (int i = 0; i < read; i++)
                {
                    IntPtr sid = System.Runtime.InteropServices.Marshal.ReadIntPtr(buffer, i * IntPtr.Size);
                    found.Add(new System.Security.Principal.SecurityIdentifier(sid).Value);
                }
            }
            finally
            {
                if (buffer != IntPtr.Zero)
                {
                    NetApiBufferFree(buffer);
                }
            }
            return found;
        }

        // The local groups of a user account, through the groups it belongs to; false for a group or an
        // account Windows cannot name or look up (a domain controller out of reach).
        private static bool Indirect(string sid, string group)
        {
            string account;
            try
            {
                account = Account(sid);
            }
            catch (Exception)
            {
                return false;
            }
            IntPtr buffer = IntPtr.Zero;
            int read, total;
            try
            {
                if (NetUserGetLocalGroups(null, account, 0, IncludeIndirect, out buffer, PreferredLength, out read, out total) != 0)
                {
                    return false;
                }
                for (int i = 0; i < read; i++)
                {
                    string name = System.Runtime.InteropServices.Marshal.PtrToStringUni(System.Runtime.InteropServices.Marshal.ReadIntPtr(buffer, i * IntPtr.Size));
                    if (string.Equals(name, group, StringComparison.OrdinalIgnoreCase))
                    {
                        return true;
                    }
                }
            }
            finally
            {
                if (buffer != IntPtr.Zero)
                {
                    NetApiBufferFree(buffer);
                }
            }
            return false;
        }
    }
}
