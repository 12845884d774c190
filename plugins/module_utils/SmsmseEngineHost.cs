// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine
//
// The managed host: the engine over ordinary folders, for mono (the lab and the tests). Only
// .NET calls, plus, where the host is Linux on x86-64, libc's lstat/stat/statvfs/chmod/mkdir for
// what .NET does not say (the kind of a special file, the change time, device and inode, free
// space of any folder, private modes). The product comes from the request (as on the POSIX
// agent), events go to and come from a JSON-lines file, the scanner is started and stopped by the
// configured command. Nothing here is used on a Windows host (SmsmseEngineWin.cs is).

using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine;
using ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy;

namespace ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineHost
{
    public static class Hosts
    {
        // The managed host; `runtime` names what runs the engine (for the facts).
        public static IHost Managed(string runtime)
        {
            return new ManagedHost(runtime);
        }
    }

    // libc where the host is Linux on x86-64 (struct stat's layout is that ABI's), else nothing.
    internal static class Libc
    {
        public static readonly bool Usable = Probe();

        [DllImport("libc", EntryPoint = "lstat", SetLastError = true)]
        private static extern int lstat(string path, byte[] buffer);

        [DllImport("libc", EntryPoint = "stat", SetLastError = true)]
        private static extern int stat(string path, byte[] buffer);

        [DllImport("libc", EntryPoint = "statvfs", SetLastError = true)]
        private static extern int statvfs(string path, byte[] buffer);

        [DllImport("libc", EntryPoint = "chmod", SetLastError = true)]
        public static extern int chmod(string path, uint mode);

        [DllImport("libc", EntryPoint = "geteuid")]
        public static extern uint geteuid();

        [DllImport("libc", EntryPoint = "open", SetLastError = true)]
        private static extern int open(string path, int flags);

        [DllImport("libc", EntryPoint = "fstat", SetLastError = true)]
        private static extern int fstat(int fd, byte[] buffer);

        [DllImport("libc", EntryPoint = "__fxstat", SetLastError = true)]
        private static extern int fxstat(int version, int fd, byte[] buffer);

        [DllImport("libc", EntryPoint = "read", SetLastError = true)]
        public static extern IntPtr read(int fd, byte[] buffer, UIntPtr count);

        [DllImport("libc", EntryPoint = "close")]
        public static extern int close(int fd);

        [DllImport("libc", EntryPoint = "write", SetLastError = true)]
        private static extern IntPtr write(int fd, byte[] buffer, UIntPtr count);

        // Writes all of `data` to the descriptor `fd` (retrying what a signal interrupts): 0, or the errno it failed with.
        public static int WriteAll(int fd, byte[] data)
        {
            int offset = 0;
            while (offset < data.Length)
            {
                byte[] chunk = offset == 0 ? data : new byte[data.Length - offset];
                if (offset != 0)
                {
                    Buffer.BlockCopy(data, offset, chunk, 0, chunk.Length);
                }
                long written = (long)write(fd, chunk, (UIntPtr)(uint)chunk.Length);
                if (written < 0)
                {
                    int errno = Marshal.GetLastWin32Error();
                    if (errno == 4)
                    {
                        continue;
                    }
                    return errno;
                }
                offset += (int)written;
            }
            return 0;
        }

        // fstat(2) into `st`: 0, or -1 (glibc before 2.33 exports it only as __fxstat)
        private static int Fstat(int fd, byte[] st)
        {
            try
            {
                return fstat(fd, st);
            }
            catch (EntryPointNotFoundException)
            {
                return fxstat(1, fd, st);
            }
        }

        // "device:inode" of what the descriptor `fd` is open on, or null when it is not open.
        public static string Identity(int fd)
        {
            byte[] st = new byte[256];
            return Fstat(fd, st) != 0 ? null : BitConverter.ToUInt64(st, 0).ToString(CultureInfo.InvariantCulture) + ":" + BitConverter.ToUInt64(st, 8).ToString(CultureInfo.InvariantCulture);
        }

        // O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC of x86-64 Linux, with O_RDONLY (0) or O_WRONLY (1)
        private const int Guarded = 0x800 | 0x20000 | 0x80000;
        public const int ReadOnly = 0;
        public const int WriteOnly = 1;

        // A regular file opened for reading without ever blocking (see Regular).
        public static Stream OpenRegular(string path)
        {
            return new DescriptorStream(Regular(path, ReadOnly));
        }

        // The descriptor of the regular file `path` opened with `access`, without ever blocking: opened non-blocking,
        // never through a link, then checked on the descriptor itself, so that a FIFO, a device or a socket (also one
        // swapped in after a stat) is refused at once, access denied, naming what it is.
        public static int Regular(string path, int access)
        {
            int fd = open(path, access | Guarded);
            if (fd < 0)
            {
                int errno = Marshal.GetLastWin32Error();
                string what = errno == 40 ? "a link, never followed" : errno == 6 ? "a socket or a FIFO, not a regular file: it is never opened; remove it" : "open failed (errno " + errno.ToString(CultureInfo.InvariantCulture) + ")";
                int code = errno == 2 || errno == 20 ? Codes.FileNotFound : errno == 13 || errno == 40 || errno == 6 ? Codes.AccessDenied : 1117;
                throw new HostException(code, what, path);
            }
            byte[] st = new byte[256];
            int done = Fstat(fd, st);
            uint type = Mode(st) & 0xF000;
            if (done != 0 || type != 0x8000)
            {
                close(fd);
                throw new HostException(Codes.AccessDenied, done != 0 ? "fstat failed" : Described(type) + ", not a regular file: it is never opened; remove it", path);
            }
            return fd;
        }

        public static string Described(uint type)
        {
            return type == 0x1000 ? "a FIFO" : type == 0x2000 ? "a character device" : type == 0x6000 ? "a block device" : type == 0xC000 ? "a socket" : type == 0x4000 ? "a folder" : "not a regular file";
        }

        [DllImport("libc", EntryPoint = "realpath", SetLastError = true)]
        private static extern IntPtr realpath(string path, IntPtr resolved);

        [DllImport("libc", EntryPoint = "free")]
        private static extern void free(IntPtr pointer);

        // realpath(3): the path with every link, "." and ".." resolved.
        public static string RealPath(string path)
        {
            IntPtr resolved = realpath(path, IntPtr.Zero);
            if (resolved == IntPtr.Zero)
            {
                int errno = Marshal.GetLastWin32Error();
                throw new HostException(errno == 2 || errno == 20 ? Codes.PathNotFound : errno == 13 ? Codes.AccessDenied : 1117, "realpath failed (errno " + errno.ToString(CultureInfo.InvariantCulture) + ")", path);
            }
            try
            {
                return Marshal.PtrToStringAnsi(resolved);
            }
            finally
            {
                free(resolved);
            }
        }

        private static bool Probe()
        {
            if (Environment.OSVersion.Platform != PlatformID.Unix || IntPtr.Size != 8 || !File.Exists("/proc/self/stat"))
            {
                return false;
            }
            try
            {
                byte[] buffer = new byte[256];
                return lstat("/", buffer) == 0 && (BitConverter.ToUInt32(buffer, 24) & 0xF000) == 0x4000;
            }
            catch (Exception)
            {
                return false;
            }
        }

        // struct stat of x86-64 Linux, or null when nothing is there; throws for other errors.
        public static byte[] Stat(string path, bool follow)
        {
            byte[] buffer = new byte[256];
            int done = follow ? stat(path, buffer) : lstat(path, buffer);
            if (done == 0)
            {
                return buffer;
            }
            int errno = Marshal.GetLastWin32Error();
            if (errno == 2 || errno == 20)
            {
                return null;
            }
            throw new HostException(errno == 13 ? Codes.AccessDenied : 1117, "stat failed (errno " + errno.ToString(CultureInfo.InvariantCulture) + ")", path);
        }

        // The events file is a configured file (a link to it is followed): anything there but a regular file (a FIFO, a
        // device, a socket) would block or answer with what it produces, so it is refused before it is opened.
        public static void RefuseSpecial(string path)
        {
            byte[] st = Usable ? Stat(path, true) : null;
            uint type = st == null ? 0x8000 : Mode(st) & 0xF000;
            if (type != 0x8000 && type != 0x4000)
            {
                throw new IOException(Described(type) + ", not a regular file: it is never opened; remove it");
            }
        }

        public static long? Free(string path)
        {
            byte[] buffer = new byte[256];
            if (statvfs(path, buffer) != 0)
            {
                return null;
            }
            return (long)(BitConverter.ToUInt64(buffer, 8) * BitConverter.ToUInt64(buffer, 32));
        }

        public static uint Mode(byte[] st)
        {
            return BitConverter.ToUInt32(st, 24);
        }

        public static uint Uid(byte[] st)
        {
            return BitConverter.ToUInt32(st, 28);
        }
    }

    // A read-only stream over a libc descriptor (Mono's FileStream takes no raw descriptor).
    internal sealed class DescriptorStream : Stream
    {
        private int fd;

        public DescriptorStream(int fd)
        {
            this.fd = fd;
        }

        public override bool CanRead { get { return fd >= 0; } }
        public override bool CanSeek { get { return false; } }
        public override bool CanWrite { get { return false; } }
        public override long Length { get { throw new NotSupportedException(); } }
        public override long Position { get { throw new NotSupportedException(); } set { throw new NotSupportedException(); } }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (fd < 0)
            {
                throw new ObjectDisposedException("DescriptorStream");
            }
            byte[] chunk = offset == 0 ? buffer : new byte[count];
            while (true)
            {
                long read = (long)Libc.read(fd, chunk, (UIntPtr)(uint)count);
                if (read >= 0)
                {
                    if (offset != 0)
                    {
                        Buffer.BlockCopy(chunk, 0, buffer, offset, (int)read);
                    }
                    return (int)read;
                }
                int errno = Marshal.GetLastWin32Error();
                if (errno != 4)
                {
                    throw new HostException(1117, "read failed (errno " + errno.ToString(CultureInfo.InvariantCulture) + ")", null);
                }
            }
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) { throw new NotSupportedException(); }
        public override void SetLength(long value) { throw new NotSupportedException(); }
        public override void Write(byte[] buffer, int offset, int count) { throw new NotSupportedException(); }

        protected override void Dispose(bool disposing)
        {
            if (fd >= 0)
            {
                Libc.close(fd);
                fd = -1;
            }
            base.Dispose(disposing);
        }
    }

    public sealed class ManagedFiles : IFileSystem
    {
        private static Entry FromStat(string name, byte[] st)
        {
            Entry entry = new Entry();
            entry.Name = name;
            uint type = Libc.Mode(st) & 0xF000;
            entry.Kind = type == 0x8000 ? "file" : type == 0x4000 ? "dir" : type == 0xA000 ? "link" : "other";
            entry.Size = BitConverter.ToInt64(st, 48);
            entry.MtimeSeconds = BitConverter.ToInt64(st, 88);
            entry.MtimeNanos = BitConverter.ToInt64(st, 96);
            long ctimeNs = BitConverter.ToInt64(st, 104) * 1000000000L + BitConverter.ToInt64(st, 112);
            entry.Stamp = ctimeNs.ToString(CultureInfo.InvariantCulture);
            ulong dev = BitConverter.ToUInt64(st, 0);
            entry.FileId = dev.ToString(CultureInfo.InvariantCulture) + ":" + BitConverter.ToUInt64(st, 8).ToString(CultureInfo.InvariantCulture);
            entry.Volume = dev.ToString(CultureInfo.InvariantCulture);
            return entry;
        }

        private static Entry FromInfo(FileSystemInfo info)
        {
            Entry entry = new Entry();
            entry.Name = info.Name;
            bool link = (info.Attributes & FileAttributes.ReparsePoint) != 0;
            bool dir = (info.Attributes & FileAttributes.Directory) != 0;
            entry.Kind = link ? "link" : dir ? "dir" : "file";
            entry.LinkToDir = link && dir;
            FileInfo file = info as FileInfo;
            entry.Size = file != null && !link ? file.Length : 0;
            long ticks = info.LastWriteTimeUtc.Ticks - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;
            entry.MtimeSeconds = ticks / TimeSpan.TicksPerSecond;
            entry.MtimeNanos = (ticks % TimeSpan.TicksPerSecond) * 100;
            entry.Volume = Path.GetPathRoot(info.FullName);
            return entry;
        }

        private static string NameOf(string path)
        {
            return Path.GetFileName(path.TrimEnd('/'));
        }

        public Entry Stat(string path)
        {
            if (Libc.Usable)
            {
                byte[] st = Libc.Stat(path, false);
                if (st == null)
                {
                    return null;
                }
                Entry entry = FromStat(NameOf(path), st);
                if (entry.Kind == "link")
                {
                    byte[] target = Libc.Stat(path, true);
                    entry.LinkToDir = target != null && (Libc.Mode(target) & 0xF000) == 0x4000;
                }
                return entry;
            }
            if (Directory.Exists(path))
            {
                return FromInfo(new DirectoryInfo(path));
            }
            FileInfo info = new FileInfo(path);
            return info.Exists || (File.Exists(path)) ? FromInfo(info) : null;
        }

        public Entry StatFollow(string path)
        {
            if (Libc.Usable)
            {
                byte[] st = Libc.Stat(path, true);
                return st == null ? null : FromStat(NameOf(path), st);
            }
            if (Directory.Exists(path))
            {
                Entry dir = FromInfo(new DirectoryInfo(path));
                dir.Kind = "dir";
                return dir;
            }
            if (File.Exists(path))
            {
                Entry file = FromInfo(new FileInfo(path));
                file.Kind = "file";
                return file;
            }
            return null;
        }

        public IList<Entry> List(string folder)
        {
            List<Entry> found = new List<Entry>();
            string[] names;
            try
            {
                names = Directory.GetFileSystemEntries(folder);
            }
            catch (DirectoryNotFoundException exception)
            {
                throw new HostException(Codes.PathNotFound, exception.Message, folder);
            }
            catch (UnauthorizedAccessException exception)
            {
                throw new HostException(Codes.AccessDenied, exception.Message, folder);
            }
            foreach (string path in names)
            {
                Entry entry = Stat(path);
                if (entry != null)
                {
                    entry.Name = Path.GetFileName(path);
                    found.Add(entry);
                }
            }
            return found;
        }

        private static Exception Map(Exception exception, string path)
        {
            if (exception is HostException)
            {
                return exception;
            }
            if (exception is FileNotFoundException)
            {
                return new HostException(Codes.FileNotFound, exception.Message, path);
            }
            if (exception is DirectoryNotFoundException)
            {
                return new HostException(Codes.PathNotFound, exception.Message, path);
            }
            if (exception is UnauthorizedAccessException)
            {
                return new HostException(Codes.AccessDenied, exception.Message, path);
            }
            string message = exception.Message ?? "";
            if (message.IndexOf("cross-device", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                return new HostException(Codes.NotSameDevice, message, path);
            }
            if (message.IndexOf("exists", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                return new HostException(Codes.AlreadyExists, message, path);
            }
            if (message.IndexOf("not empty", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                return new HostException(Codes.DirNotEmpty, message, path);
            }
            if (message.IndexOf("Operation not permitted", StringComparison.OrdinalIgnoreCase) >= 0 || message.IndexOf("denied", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                return new HostException(Codes.AccessDenied, message, path);
            }
            if (message.IndexOf("No space", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                return new HostException(Codes.DiskFull, message, path);
            }
            return new HostException(1117, exception.GetType().Name + ": " + message, path);
        }

        public Stream OpenRead(string path)
        {
            if (Libc.Usable)
            {
                return Libc.OpenRegular(path);
            }
            Entry entry = Stat(path);
            if (entry == null)
            {
                throw new HostException(Codes.FileNotFound, "no such file", path);
            }
            if (entry.Kind != "file")
            {
                throw new HostException(Codes.AccessDenied, "not a regular file (" + entry.Kind + "); it is never opened", path);
            }
            try
            {
                return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
            }
            catch (Exception exception)
            {
                throw Map(exception, path);
            }
        }

        public Stream CreateNew(string path)
        {
            if (Stat(path) != null)
            {
                throw new HostException(Codes.AlreadyExists, "already exists", path);
            }
            try
            {
                return new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            }
            catch (Exception exception)
            {
                throw Map(exception, path);
            }
        }

        public void ProbeWritable(string path)
        {
            if (Libc.Usable)
            {
                Libc.close(Libc.Regular(path, Libc.WriteOnly));
                return;
            }
            try
            {
                new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete).Dispose();
            }
            catch (Exception exception)
            {
                throw Map(exception, path);
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
                throw Map(exception, path);
            }
        }

        public void Move(string from, string to)
        {
            Entry source = Stat(from);
            if (source == null)
            {
                throw new HostException(Codes.FileNotFound, "no such file or folder", from);
            }
            if (Stat(to) != null)
            {
                throw new HostException(Codes.AlreadyExists, "already exists", to);
            }
            Entry there = StatFollow(Paths.Parent(to) ?? "/");
            if (there == null)
            {
                throw new HostException(Codes.PathNotFound, "no such folder", Paths.Parent(to));
            }
            if (Libc.Usable && there.Volume != source.Volume)
            {
                throw new HostException(Codes.NotSameDevice, "not on the same volume: a rename cannot move it", to);
            }
            try
            {
                if (source.Kind == "dir")
                {
                    Directory.Move(from, to);
                }
                else
                {
                    File.Move(from, to);
                }
            }
            catch (Exception exception)
            {
                throw Map(exception, from);
            }
        }

        public void Replace(string replacement, string target)
        {
            try
            {
                if (Stat(target) == null)
                {
                    File.Move(replacement, target);
                }
                else
                {
                    File.Replace(replacement, target, null);
                }
            }
            catch (Exception exception)
            {
                throw Map(exception, target);
            }
        }

        public void Delete(string path)
        {
            Entry entry = Stat(path);
            if (entry == null)
            {
                throw new HostException(Codes.FileNotFound, "no such file", path);
            }
            try
            {
                if (entry.Kind == "dir")
                {
                    throw new HostException(Codes.AccessDenied, "a folder is not a file", path);
                }
                File.Delete(path);
            }
            catch (Exception exception)
            {
                throw Map(exception, path);
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
                throw Map(exception, path);
            }
        }

        public void MakeWritable(string path)
        {
        }

        public void CopyTimes(string source, string target)
        {
            try
            {
                File.SetLastWriteTimeUtc(target, File.GetLastWriteTimeUtc(source));
            }
            catch (Exception exception)
            {
                throw Map(exception, target);
            }
        }

        public long? FreeBytes(string path)
        {
            if (Libc.Usable)
            {
                return Libc.Free(path);
            }
            return null;
        }

        public string RealPath(string path)
        {
            return Libc.Usable ? Libc.RealPath(path) : Path.GetFullPath(path);
        }

        public void Flush(string folder)
        {
        }

        // Owned by the agent's user, writable by nobody else, not a link (private_files.py's rule).
        private static string Unsafe(byte[] st, string path, string what)
        {
            uint uid = Libc.geteuid();
            string fix = string.Format(CultureInfo.InvariantCulture, "remove it, or run `chown {0} {1}; chmod go-w {1}` if its content is yours", uid, path);
            if (Libc.Uid(st) != uid)
            {
                return string.Format(CultureInfo.InvariantCulture, "the {0} {1} is owned by uid {2}, not by the agent's user (uid {3}): {4}", what, path, Libc.Uid(st), uid, fix);
            }
            if ((Libc.Mode(st) & 0x12) != 0)
            {
                return string.Format(CultureInfo.InvariantCulture, "the {0} {1} is writable by group or others (mode {2}): {3}", what, path, Convert.ToString(Libc.Mode(st) & 0xFFF, 8).PadLeft(4, '0'), fix);
            }
            return null;
        }

        public string PrivateFolder(string path, bool create)
        {
            if (!Libc.Usable)
            {
                return "the hash cache needs a host that can read owners and modes; every file is read";
            }
            if (create)
            {
                List<string> missing = new List<string>();
                string current = Path.GetFullPath(path);
                while (current != null && Libc.Stat(current, false) == null)
                {
                    missing.Add(current);
                    current = Paths.Parent(current);
                }
                for (int i = missing.Count - 1; i >= 0; i--)
                {
                    Directory.CreateDirectory(missing[i]);
                    Libc.chmod(missing[i], Convert.ToUInt32("700", 8));
                }
            }
            byte[] st = Libc.Stat(path, false);
            if (st == null)
            {
                return null;
            }
            if ((Libc.Mode(st) & 0xF000) != 0x4000)
            {
                return "the folder " + path + " is a link or not a folder; it is never followed: remove it";
            }
            return Unsafe(st, path, "folder");
        }

        public string PrivateFile(string path)
        {
            if (!Libc.Usable)
            {
                return "the hash cache needs a host that can read owners and modes; every file is read";
            }
            byte[] st = Libc.Stat(path, false);
            if (st == null)
            {
                return null;
            }
            uint type = Libc.Mode(st) & 0xF000;
            if (type == 0xA000)
            {
                return "the file " + path + " is a link or not a file; it is never followed: remove it";
            }
            if (type != 0x8000)
            {
                return "the file " + path + " is not a regular file: remove it";
            }
            return Unsafe(st, path, "file");
        }

        public void WritePrivate(string path, byte[] data)
        {
            string temp = path + "." + Process.GetCurrentProcess().Id.ToString(CultureInfo.InvariantCulture) + ".tmp";
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
            using (FileStream stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                Libc.chmod(temp, Convert.ToUInt32("600", 8));
                stream.Write(data, 0, data.Length);
            }
            if (File.Exists(path))
            {
                File.Replace(temp, path, null);
            }
            else
            {
                File.Move(temp, path);
            }
        }

        // POSIX: every write moves the file's ctime, the cache's stamp; Windows' share modes do not exist here
        public bool WriterPresent(string path)
        {
            return false;
        }

        // POSIX has no short names
        public string LongName(string path)
        {
            return path;
        }
    }

    public sealed class ManagedProcesses : IProcesses
    {
        public int CurrentId
        {
            get { return Process.GetCurrentProcess().Id; }
        }

        public string HostName
        {
            get { return System.Net.Dns.GetHostName(); }
        }

        public string BootId
        {
            get
            {
                try
                {
                    string text = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
                    return text.Length == 0 ? null : text;
                }
                catch (Exception)
                {
                    return null;
                }
            }
        }

        // Linux's /proc/stat btime (store_lock.py's boot_time); 0 where the host does not say
        public double BootTime
        {
            get
            {
                try
                {
                    foreach (string line in File.ReadAllLines("/proc/stat"))
                    {
                        if (line.StartsWith("btime ", StringComparison.Ordinal))
                        {
                            return double.Parse(line.Substring(6).Trim(), CultureInfo.InvariantCulture);
                        }
                    }
                }
                catch (Exception)
                {
                    return 0;
                }
                return 0;
            }
        }

        // Linux's /proc: field 22 of /proc/<pid>/stat, the start in clock ticks since the boot (as the POSIX agent)
        public string StartToken(int pid)
        {
            try
            {
                string stat = File.ReadAllText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/stat");
                string[] fields = stat.Substring(stat.LastIndexOf(')') + 1).Split(new char[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                return "ticks:" + long.Parse(fields[19], CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
            }
            catch (Exception)
            {
                return null;
            }
        }

        public bool Alive(int pid)
        {
            if (Directory.Exists("/proc/self"))
            {
                return Directory.Exists("/proc/" + pid.ToString(CultureInfo.InvariantCulture));
            }
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
        }

        public string Which(string program)
        {
            if (program.IndexOf('/') >= 0)
            {
                return File.Exists(program) ? program : null;
            }
            foreach (string folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
            {
                if (folder.Length > 0 && File.Exists(Path.Combine(folder, program)))
                {
                    return Path.Combine(folder, program);
                }
            }
            return null;
        }

        public RunResult Run(string program, IList<string> arguments, int timeoutSeconds, int tailChars)
        {
            RunResult result = new RunResult();
            ProcessStartInfo start = new ProcessStartInfo(program, CommandLine.Join(new List<string>(arguments).ToArray()));
            start.UseShellExecute = false;
            start.RedirectStandardOutput = true;
            start.RedirectStandardError = true;
            start.RedirectStandardInput = true;
            TailBuffer tail = new TailBuffer(tailChars);
            Stopwatch watch = Stopwatch.StartNew();
            Process process = new Process();
            process.StartInfo = start;
            process.OutputDataReceived += delegate(object sender, DataReceivedEventArgs e) { tail.AppendLine(e.Data); };
            process.ErrorDataReceived += delegate(object sender, DataReceivedEventArgs e) { tail.AppendLine(e.Data); };
            try
            {
                process.Start();
            }
            catch (Exception exception)
            {
                result.Error = exception.Message;
                return result;
            }
            result.Started = true;
            using (process)
            {
                process.StandardInput.Close();
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                if (!process.WaitForExit(timeoutSeconds * 1000))
                {
                    result.TimedOut = true;
                    try
                    {
                        process.Kill();
                    }
                    catch (InvalidOperationException)
                    {
                    }
                    process.WaitForExit(10000);
                }
                else
                {
                    process.WaitForExit();
                    result.Exited = true;
                    result.ExitCode = process.ExitCode;
                }
            }
            result.Seconds = watch.Elapsed.TotalSeconds;
            result.Output = tail.ToString();
            return result;
        }
    }

    public sealed class ManagedClock : IClock
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

    // The product as the request configures it, events in a JSON-lines file (events.py's format).
    public sealed class ManagedProduct : IProduct
    {
        private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'";

        public Dictionary<string, object> Read(IDictionary request)
        {
            IDictionary product = Req.Map(request, "product");
            if (product == null)
            {
                return null;
            }
            Dictionary<string, object> record = new Dictionary<string, object>();
            record["name"] = Req.NeedStr(product, "name");
            record["version"] = Req.NeedStr(product, "version");
            record["source"] = "option";
            return record;
        }

        public Dictionary<string, object> Installed()
        {
            return null;
        }

        public List<object> Events(IDictionary request, int limit, out string error)
        {
            error = null;
            List<object> found = new List<object>();
            string path = Req.Str(request, "events_file");
            if (string.IsNullOrEmpty(path))
            {
                return found;
            }
            HashSet<long> wanted = new HashSet<long>();
            foreach (object id in Req.List(request, "event_ids"))
            {
                wanted.Add(Convert.ToInt64(id, CultureInfo.InvariantCulture));
            }
            DateTime since = DateTime.UtcNow.AddHours(-Req.NeedLong(request, "event_hours"));
            int skipped = 0;
            string[] lines;
            try
            {
                Libc.RefuseSpecial(path);
                lines = File.ReadAllLines(path, new UTF8Encoding(false, false));
            }
            catch (Exception exception)
            {
                string text = exception is FileNotFoundException || exception is DirectoryNotFoundException ? "No such file or directory" : exception.Message;
                error = "cannot read " + path + ": " + text;
                return found;
            }
            foreach (string line in lines)
            {
                if (line.Trim().Length == 0)
                {
                    continue;
                }
                try
                {
                    if (line.Length > 8192)
                    {
                        throw new FormatException("line too long");
                    }
                    IDictionary record = (IDictionary)Json.Parse(line);
                    object id = Req.Get(record, "id");
                    if (!(id is long) || (long)id < 0 || (long)id > 65535 || !record.Contains("id"))
                    {
                        throw new FormatException("bad id");
                    }
                    DateTime when = DateTime.ParseExact((string)record["time"], TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
                    object message = Req.Get(record, "message");
                    string shown = message == null ? (record.Contains("message") ? "None" : "") : (message is string ? (string)message : Json.Write(message));
                    if (wanted.Contains((long)id) && when >= since)
                    {
                        Dictionary<string, object> item = new Dictionary<string, object>();
                        item["id"] = id;
                        item["time"] = when.ToString(TimeFormat, CultureInfo.InvariantCulture);
                        item["message"] = Text.Head(shown, 4096);
                        found.Add(item);
                    }
                }
                catch (Exception)
                {
                    skipped++;
                }
            }
            List<object> sorted = new List<object>(found);
            // newest first, stable for equal times (Python's sort(reverse=True) keeps equal items in order)
            List<KeyValuePair<int, object>> indexed = new List<KeyValuePair<int, object>>();
            for (int i = 0; i < sorted.Count; i++)
            {
                indexed.Add(new KeyValuePair<int, object>(i, sorted[i]));
            }
            indexed.Sort(delegate(KeyValuePair<int, object> a, KeyValuePair<int, object> b)
            {
                int byTime = string.CompareOrdinal((string)((IDictionary)b.Value)["time"], (string)((IDictionary)a.Value)["time"]);
                return byTime != 0 ? byTime : a.Key.CompareTo(b.Key);
            });
            found.Clear();
            foreach (KeyValuePair<int, object> item in indexed)
            {
                if (found.Count >= limit)
                {
                    break;
                }
                found.Add(item.Value);
            }
            if (skipped > 0)
            {
                error = skipped.ToString(CultureInfo.InvariantCulture) + " line(s) of " + path + " are not events and were skipped";
            }
            return found;
        }

        public int WriteEvents(IList<IDictionary> events, string eventsFile)
        {
            string now = DateTime.UtcNow.ToString(TimeFormat, CultureInfo.InvariantCulture);
            StringBuilder lines = new StringBuilder();
            foreach (IDictionary e in events)
            {
                Dictionary<string, object> record = new Dictionary<string, object>();
                record["id"] = Req.NeedLong(e, "id");
                record["time"] = now;
                record["message"] = Req.NeedStr(e, "message");
                record["source"] = "mailsec.smsmse";
                record["type"] = Req.NeedStr(e, "type");
                lines.Append(Json.Write(record)).Append('\n');
            }
            byte[] data = new UTF8Encoding(false).GetBytes(lines.ToString());
            try
            {
                Libc.RefuseSpecial(eventsFile);
            }
            catch (IOException exception)
            {
                throw new IOException(eventsFile + ": " + exception.Message);
            }
            using (FileStream stream = new FileStream(eventsFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite))
            {
                stream.Write(data, 0, data.Length);
            }
            return events.Count;
        }
    }

    // The scanner's service as the configured command (notify.py's rules).
    public sealed class ManagedServices : IServices
    {
        private readonly IHost host;

        public ManagedServices(IHost host)
        {
            this.host = host;
        }

        public IList<string> Holders(string folder)
        {
            return new List<string>();
        }

        public Dictionary<string, object> Act(string action, IDictionary args)
        {
            List<object> command = Req.List(args, "command");
            if (command.Count == 0)
            {
                throw new Refusal("failed", "no command is configured to " + action + " the scanner on this POSIX host", "NOT_CONFIGURED", null);
            }
            int timeout = (int)Req.NeedLong(args, "timeout");
            List<string> arguments = new List<string>();
            for (int i = 1; i < command.Count; i++)
            {
                arguments.Add((string)command[i]);
            }
            string program = (string)command[0];
            RunResult run = host.Processes.Run(host.Processes.Which(program) ?? program, arguments, timeout, 4000);
            Dictionary<string, object> data = new Dictionary<string, object>();
            if (!run.Started)
            {
                throw new HostException(Codes.FileNotFound, program + " could not be started: " + run.Error, null);
            }
            if (run.TimedOut)
            {
                data["exit_code"] = null;
                data["output"] = run.Output;
                throw new Refusal("timeout", program + " did not finish within " + timeout.ToString(CultureInfo.InvariantCulture) + " s", null, data);
            }
            data["exit_code"] = (long)run.ExitCode;
            data["output"] = run.Output;
            if (run.ExitCode != 0)
            {
                string tail = run.Output.Trim();
                throw new Refusal("failed", program + " exited " + run.ExitCode.ToString(CultureInfo.InvariantCulture) + ": " + (tail.Length > 500 ? tail.Substring(tail.Length - 500) : tail), "COMMAND_FAILED", data);
            }
            data[action == "stop" ? "stopped" : "started"] = true;
            return data;
        }
    }

    public sealed class ManagedHost : IHost
    {
        private readonly HostInfo info;
        private readonly IFileSystem files = new ManagedFiles();
        private readonly IProcesses processes = new ManagedProcesses();
        private readonly IClock clock = new ManagedClock();
        private readonly IProduct product;
        private readonly IServices services;
        private readonly string runtime;
        public string Runtime { get { return runtime; } }

        public ManagedHost(string runtime)
        {
            this.runtime = runtime;
            info = new HostInfo();
            bool unix = Environment.OSVersion.Platform == PlatformID.Unix;
            info.Os = unix ? (Directory.Exists("/proc/self") ? "linux" : "other") : "windows";
            info.OsVersion = OsRelease();
            info.Arch = Arch();
            info.HostName = processes.HostName;
            string xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string home = Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            info.DefaultCacheDir = Path.Combine(string.IsNullOrEmpty(xdg) ? Path.Combine(home, ".cache") : xdg, "mailsec-smsmse", "hashes");
            info.StateDir = Path.Combine(string.IsNullOrEmpty(xdg) ? Path.Combine(home, ".cache") : xdg, "mailsec-smsmse", "state");
            product = new ManagedProduct();
            services = new ManagedServices(this);
        }

        private static string OsRelease()
        {
            try
            {
                return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
            }
            catch (Exception)
            {
                return Environment.OSVersion.Version.ToString();
            }
        }

        private static string Arch()
        {
            try
            {
                string release = File.ReadAllText("/proc/sys/kernel/arch").Trim();
                if (release.Length > 0)
                {
                    return release;
                }
            }
            catch (Exception)
            {
            }
            return IntPtr.Size == 8 ? "x86_64" : "i686";
        }

        public HostInfo Info { get { return info; } }
        public IFileSystem Files { get { return files; } }
        public IProcesses Processes { get { return processes; } }
        public IClock Clock { get { return clock; } }
        public IProduct Product { get { return product; } }
        public IServices Services { get { return services; } }
        public IDownloads Downloads { get { return null; } }

        public string Env(string name)
        {
            return Environment.GetEnvironmentVariable(name);
        }

        public Dictionary<string, object> Privacy(string path, IDictionary policy)
        {
            return null;
        }
    }
}
