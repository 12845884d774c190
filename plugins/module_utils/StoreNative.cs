// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy
//
// Win32 calls the Windows agent needs and .NET Framework 4.x does not offer, each with the
// retries an antivirus filter calls for (StorePolicy.RetryPolicy):
// - file stamps: the NTFS file ID, the change time (FILE_BASIC_INFO.ChangeTime, which a
//   file's writer cannot set back), size and last write time, read from an open handle;
// - hashing and copying with FileShare.ReadWrite | Delete (never blocking LiveUpdate or the
//   product's own copy job), with a report of a file that changed during the read;
// - definfo.dat read for the probe without following a link;
// - ReplaceFile for definfo.dat (keeps the file's ACL and attributes), MoveFileEx for folders;
// - an exclusive open that tells whether another process holds a file;
// - free space and volume identity of any folder (mount points and UNC paths included);
// - a process runner that captures the output's tail and stops a whole process tree;
// - the hash cache folder with a protected DACL and a trusted owner.

using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Security.AccessControl;
using System.Security.Cryptography;
using System.Security.Principal;
using System.Threading;
using Microsoft.Win32.SafeHandles;
using ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy;

namespace ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative
{
    // What identifies one state of a file: equal stamps, same bytes (barring a writer that
    // restores every one of them, which the change time prevents).
    public sealed class FileStamp
    {
        public long Size;
        public long LastWrite;
        public long ChangeTime;
        public string FileId;

        public bool SameAs(FileStamp other)
        {
            return other != null && Size == other.Size && LastWrite == other.LastWrite && ChangeTime == other.ChangeTime && FileId == other.FileId;
        }
    }

    public sealed class HashResult
    {
        public string Sha256;
        public FileStamp Stamp;
        public bool Changed;
    }

    // definfo.dat as the probe found it: Kind null when nothing is there; Sha256 and Content
    // only for a regular file small enough (see Native.ReadDefinfo).
    public sealed class DefinfoRecord
    {
        public string Kind;
        public long Size;
        public string Sha256;
        public byte[] Content;
    }

    public sealed class RunResult
    {
        public int ExitCode;
        public bool Exited;
        public bool TimedOut;
        public string Output;
        public double Seconds;
    }

    public static class Native
    {
        private const uint MOVEFILE_REPLACE_EXISTING = 0x1;
        private const uint MOVEFILE_WRITE_THROUGH = 0x8;
        private const uint REPLACEFILE_IGNORE_MERGE_ERRORS = 0x2;
        private const uint FILE_READ_ATTRIBUTES = 0x80;
        private const uint GENERIC_READ = 0x80000000;
        private const uint DELETE = 0x00010000;
        private const uint FILE_SHARE_ALL = 0x7;
        private const uint OPEN_EXISTING = 3;
        private const uint FILE_FLAG_BACKUP_SEMANTICS = 0x02000000;
        private const uint FILE_FLAG_OPEN_REPARSE_POINT = 0x00200000;
        private const uint FILE_FLAG_SEQUENTIAL_SCAN = 0x08000000;
        private const int FileBasicInfo = 0;

        [StructLayout(LayoutKind.Sequential)]
        private struct BY_HANDLE_FILE_INFORMATION
        {
            public uint FileAttributes;
            public System.Runtime.InteropServices.ComTypes.FILETIME CreationTime;
            public System.Runtime.InteropServices.ComTypes.FILETIME LastAccessTime;
            public System.Runtime.InteropServices.ComTypes.FILETIME LastWriteTime;
            public uint VolumeSerialNumber;
            public uint FileSizeHigh;
            public uint FileSizeLow;
            public uint NumberOfLinks;
            public uint FileIndexHigh;
            public uint FileIndexLow;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct FILE_BASIC_INFO
        {
            public long CreationTime;
            public long LastAccessTime;
            public long LastWriteTime;
            public long ChangeTime;
            public uint FileAttributes;
        }

        [DllImport("kernel32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool GetFileInformationByHandle(SafeFileHandle hFile, out BY_HANDLE_FILE_INFORMATION lpFileInformation);

        [DllImport("kernel32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool GetFileInformationByHandleEx(SafeFileHandle hFile, int fileInformationClass, out FILE_BASIC_INFO lpFileInformation, uint dwBufferSize);

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
        private static extern SafeFileHandle CreateFile(string lpFileName, uint dwDesiredAccess, uint dwShareMode, IntPtr lpSecurityAttributes, uint dwCreationDisposition, uint dwFlagsAndAttributes, IntPtr hTemplateFile);

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool MoveFileEx(string lpExistingFileName, string lpNewFileName, uint dwFlags);

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool ReplaceFile(string lpReplacedFileName, string lpReplacementFileName, string lpBackupFileName, uint dwReplaceFlags, IntPtr lpExclude, IntPtr lpReserved);

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool GetDiskFreeSpaceEx(string lpDirectoryName, out ulong lpFreeBytesAvailable, out ulong lpTotalNumberOfBytes, out ulong lpTotalNumberOfFreeBytes);

        [DllImport("kernel32.dll")]
        private static extern ulong GetTickCount64();

        // When this host last started, in Unix seconds (a lock taken before it belongs to a run that is gone).
        public static double BootTimeUnix()
        {
            double now = (DateTime.UtcNow - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc)).TotalSeconds;
            return now - GetTickCount64() / 1000.0;
        }

        // "volume:index" in hex, for a file opened by the caller.
        public static string FileId(SafeFileHandle handle)
        {
            BY_HANDLE_FILE_INFORMATION info;
            if (!GetFileInformationByHandle(handle, out info))
            {
                throw new Win32Exception(Marshal.GetLastWin32Error());
            }
            return string.Format("{0:x8}:{1:x8}{2:x8}", info.VolumeSerialNumber, info.FileIndexHigh, info.FileIndexLow);
        }

        public static string FileId(FileStream stream)
        {
            return FileId(stream.SafeFileHandle);
        }

        // Size, last write time, change time and file ID of an open file.
        public static FileStamp Stamp(SafeFileHandle handle)
        {
            BY_HANDLE_FILE_INFORMATION info;
            if (!GetFileInformationByHandle(handle, out info))
            {
                throw new Win32Exception(Marshal.GetLastWin32Error());
            }
            FILE_BASIC_INFO basic;
            if (!GetFileInformationByHandleEx(handle, FileBasicInfo, out basic, (uint)Marshal.SizeOf(typeof(FILE_BASIC_INFO))))
            {
                throw new Win32Exception(Marshal.GetLastWin32Error());
            }
            FileStamp stamp = new FileStamp();
            stamp.Size = ((long)info.FileSizeHigh << 32) | info.FileSizeLow;
            stamp.LastWrite = basic.LastWriteTime;
            stamp.ChangeTime = basic.ChangeTime;
            stamp.FileId = string.Format("{0:x8}:{1:x8}{2:x8}", info.VolumeSerialNumber, info.FileIndexHigh, info.FileIndexLow);
            return stamp;
        }

        // The stamp of a path without reading it or following a link (read-attributes access
        // shares everything, so it never disturbs another process).
        public static FileStamp StampOf(string path)
        {
            using (SafeFileHandle handle = OpenAttributes(path))
            {
                return Stamp(handle);
            }
        }

        private static SafeFileHandle OpenAttributes(string path)
        {
            SafeFileHandle handle = CreateFile(path, FILE_READ_ATTRIBUTES, FILE_SHARE_ALL, IntPtr.Zero, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, IntPtr.Zero);
            if (handle.IsInvalid)
            {
                int code = Marshal.GetLastWin32Error();
                handle.Dispose();
                throw new Win32Exception(code, string.Format("cannot open {0}", path));
            }
            return handle;
        }

        // Read without ever blocking another process: LiveUpdate may purge, and the product
        // may rewrite, a file while it is read.
        public static FileStream OpenShared(string path, int buffer)
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, buffer, FileOptions.SequentialScan);
        }

        // SHA-256 of a file, and whether it changed while it was read (then the digest is null).
        public static HashResult HashFile(string path, int buffer)
        {
            HashResult result = new HashResult();
            using (FileStream stream = OpenShared(path, buffer))
            {
                FileStamp before = Stamp(stream.SafeFileHandle);
                byte[] digest;
                using (SHA256 sha = Hashing.NewSha256())
                {
                    digest = sha.ComputeHash(stream);
                }
                FileStamp after = Stamp(stream.SafeFileHandle);
                result.Stamp = after;
                result.Changed = !before.SameAs(after) || stream.Position != after.Size;
                result.Sha256 = result.Changed ? null : Hashing.Hex(digest);
            }
            return result;
        }

        // definfo.dat as the probe reports it, never following a link (the POSIX agent's lstat and
        // O_NOFOLLOW): what is there from its own attributes (Kinds.Of), then, for a file, one
        // handle opened on the entry itself (FILE_FLAG_OPEN_REPARSE_POINT: a link swapped in since
        // is opened and seen, not followed), shared with every other process. Of a regular file: its
        // size, its SHA-256 when it holds at most `maxHash` bytes (a change can then expect and
        // replace a file too large to carry) and its bytes when at most `maxContent`. Null when
        // nothing is there.
        public static DefinfoRecord ReadDefinfo(string path, int maxContent, long maxHash)
        {
            DefinfoRecord record = new DefinfoRecord();
            record.Kind = KindOf(path);
            if (record.Kind != "file")
            {
                return record.Kind == null ? null : record;
            }
            SafeFileHandle handle = CreateFile(path, GENERIC_READ, FILE_SHARE_ALL, IntPtr.Zero, OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_SEQUENTIAL_SCAN, IntPtr.Zero);
            if (handle.IsInvalid)
            {
                int code = Marshal.GetLastWin32Error();
                handle.Dispose();
                // removed, or replaced by a folder, since its attributes were read: say what is there now
                record.Kind = KindOf(path);
                if (record.Kind != "file")
                {
                    return record.Kind == null ? null : record;
                }
                throw new Win32Exception(code, string.Format("cannot open {0}: {1}", path, new Win32Exception(code).Message));
            }
            FileStream opened;
            try
            {
                opened = new FileStream(handle, FileAccess.Read, 65536, false);
            }
            catch (Exception)
            {
                handle.Dispose();
                throw;
            }
            using (FileStream stream = opened)
            {
                BY_HANDLE_FILE_INFORMATION info;
                if (!GetFileInformationByHandle(handle, out info))
                {
                    throw new Win32Exception(Marshal.GetLastWin32Error());
                }
                record.Kind = Kinds.Of((FileAttributes)info.FileAttributes);
                record.Size = ((long)info.FileSizeHigh << 32) | info.FileSizeLow;
                if (record.Kind != "file")
                {
                    record.Size = 0;
                    return record;
                }
                if (record.Size > maxHash)
                {
                    return record;
                }
                using (SHA256 sha = Hashing.NewSha256())
                using (MemoryStream head = new MemoryStream())
                {
                    byte[] chunk = new byte[65536];
                    long total = 0;
                    int count;
                    while ((count = stream.Read(chunk, 0, chunk.Length)) > 0)
                    {
                        total += count;
                        if (total > maxHash)
                        {
                            // grew past the bound while it was read: no digest, as for a larger file
                            record.Size = total;
                            return record;
                        }
                        sha.TransformBlock(chunk, 0, count, null, 0);
                        if (head.Length <= maxContent)
                        {
                            head.Write(chunk, 0, (int)Math.Min(count, maxContent + 1 - head.Length));
                        }
                    }
                    sha.TransformFinalBlock(chunk, 0, 0);
                    record.Sha256 = Hashing.Hex(sha.Hash);
                    if (total <= maxContent)
                    {
                        record.Size = total;
                        record.Content = head.ToArray();
                    }
                }
            }
            return record;
        }

        // What is at `path`, from its own attributes (GetFileAttributesEx: a link's own, never its
        // target's), or null when nothing is there.
        public static string KindOf(string path)
        {
            try
            {
                return Kinds.Of(File.GetAttributes(path));
            }
            catch (FileNotFoundException)
            {
                return null;
            }
            catch (DirectoryNotFoundException)
            {
                return null;
            }
        }

        // One pass over the bytes: read (shared), hash, write (new file, write-through). The copy
        // keeps the source's last write time. Changed: the source moved on during the copy.
        public static HashResult CopyHashed(string source, string target, int buffer)
        {
            HashResult result = new HashResult();
            using (FileStream reader = OpenShared(source, buffer))
            {
                FileStamp before = Stamp(reader.SafeFileHandle);
                using (SHA256 sha = Hashing.NewSha256())
                {
                    using (FileStream writer = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, buffer, FileOptions.WriteThrough))
                    {
                        byte[] chunk = new byte[buffer];
                        int count;
                        while ((count = reader.Read(chunk, 0, chunk.Length)) > 0)
                        {
                            sha.TransformBlock(chunk, 0, count, null, 0);
                            writer.Write(chunk, 0, count);
                        }
                        sha.TransformFinalBlock(chunk, 0, 0);
                        writer.Flush(true);
                    }
                    FileStamp after = Stamp(reader.SafeFileHandle);
                    result.Stamp = after;
                    result.Changed = !before.SameAs(after) || reader.Position != after.Size;
                    result.Sha256 = Hashing.Hex(sha.Hash);
                }
                File.SetLastWriteTimeUtc(target, DateTime.FromFileTimeUtc(before.LastWrite));
            }
            return result;
        }

        // 0 when the file could be opened with no sharing at all, for reading and deleting, else the
        // Win32 error (32: another process holds it). Delete access also finds a DLL that is loaded
        // (mapped as an image) after its loader closed the handle; a read-only file, which refuses
        // delete access, is opened for reading alone.
        public static int TryOpenExclusive(string path)
        {
            int code = OpenExclusive(path, GENERIC_READ | DELETE);
            if (code == Win32Error.AccessDenied)
            {
                code = OpenExclusive(path, GENERIC_READ);
            }
            return code;
        }

        private static int OpenExclusive(string path, uint access)
        {
            SafeFileHandle handle = CreateFile(path, access, 0, IntPtr.Zero, OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT, IntPtr.Zero);
            int code = handle.IsInvalid ? Marshal.GetLastWin32Error() : 0;
            handle.Dispose();
            return code;
        }

        private static int Attempt(bool ok)
        {
            return ok ? 0 : Marshal.GetLastWin32Error();
        }

        private static void Check(int code, string what)
        {
            if (code != 0)
            {
                throw new Win32Exception(code, what + ": " + new Win32Exception(code).Message);
            }
        }

        // Rename a folder or file; the target must not exist. Retried through antivirus filters.
        public static void Move(string source, string target, int retrySeconds)
        {
            int code = RetryPolicy.Run(delegate { return Attempt(MoveFileEx(source, target, MOVEFILE_WRITE_THROUGH)); }, retrySeconds, Thread.Sleep);
            Check(code, string.Format("cannot rename {0} to {1}", source, target));
        }

        // Replace `target` by the fully written `replacement` (same folder): ReplaceFile, the move
        // finished when it failed after removing the target (StorePolicy.PointerReplace).
        public static void Replace(string target, string replacement, int retrySeconds)
        {
            int code = PointerReplace.Replace(new PointerFs(), target, replacement, retrySeconds);
            Check(code, string.Format("cannot replace {0} by {1}", target, replacement));
        }

        private sealed class PointerFs : IReplaceFs
        {
            public bool Exists(string path)
            {
                return File.Exists(path);
            }

            public bool IsReadOnly(string path)
            {
                return (File.GetAttributes(path) & FileAttributes.ReadOnly) != 0;
            }

            public int SetReadOnly(string path, bool readOnly)
            {
                try
                {
                    FileAttributes attributes = File.GetAttributes(path);
                    File.SetAttributes(path, readOnly ? attributes | FileAttributes.ReadOnly : attributes & ~FileAttributes.ReadOnly);
                    return 0;
                }
                catch (Exception exception)
                {
                    int code = Win32Error.FromException(exception);
                    return code == 0 ? Win32Error.AccessDenied : code;
                }
            }

            public int ReplaceFile(string target, string replacement)
            {
                return Attempt(Native.ReplaceFile(target, replacement, null, REPLACEFILE_IGNORE_MERGE_ERRORS, IntPtr.Zero, IntPtr.Zero));
            }

            public int MoveFile(string source, string target)
            {
                return Attempt(MoveFileEx(source, target, MOVEFILE_WRITE_THROUGH));
            }

            public void Sleep(int milliseconds)
            {
                Thread.Sleep(milliseconds);
            }
        }

        // Bytes the caller may use on the volume of `path` (the nearest existing ancestor):
        // right for mount points and UNC paths, where DriveInfo reports the drive letter's.
        public static long FreeBytes(string path)
        {
            string folder = ExistingAncestor(path);
            ulong available, total, free;
            if (!GetDiskFreeSpaceEx(folder.EndsWith("\\") ? folder : folder + "\\", out available, out total, out free))
            {
                throw new Win32Exception(Marshal.GetLastWin32Error(), string.Format("cannot read the free space of {0}", folder));
            }
            return (long)Math.Min(available, (ulong)long.MaxValue);
        }

        // The volume serial number of the nearest existing ancestor of `path`.
        public static string VolumeOf(string path)
        {
            string folder = ExistingAncestor(path);
            using (SafeFileHandle handle = OpenAttributes(folder))
            {
                string id = FileId(handle);
                return id.Substring(0, id.IndexOf(':'));
            }
        }

        public static string ExistingAncestor(string path)
        {
            string current = Path.GetFullPath(path);
            while (!Directory.Exists(current))
            {
                string parent = Path.GetDirectoryName(current);
                if (string.IsNullOrEmpty(parent))
                {
                    break;
                }
                current = parent;
            }
            return current;
        }

        // Remove a folder (or a link) and what is below it, never through a reparse point.
        public static int RemoveTree(string path, int retrySeconds, IList<string> remaining)
        {
            return Tree.Remove(new TreeFs(), path, retrySeconds, remaining);
        }
    }

    // The file system a tree removal works on: attributes read without following links,
    // RemoveDirectory removing a junction or directory link itself.
    public sealed class TreeFs : ITreeFs
    {
        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool RemoveDirectoryW(string lpPathName);

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool DeleteFileW(string lpFileName);

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
        private static extern uint GetFileAttributesW(string lpFileName);

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool SetFileAttributesW(string lpFileName, uint dwFileAttributes);

        private const uint INVALID_FILE_ATTRIBUTES = 0xFFFFFFFF;

        public FsEntry Stat(string path)
        {
            uint attributes = GetFileAttributesW(path);
            if (attributes == INVALID_FILE_ATTRIBUTES)
            {
                int code = Marshal.GetLastWin32Error();
                if (code == Win32Error.FileNotFound || code == Win32Error.PathNotFound)
                {
                    return null;
                }
                throw new Win32Exception(code, string.Format("cannot read the attributes of {0}", path));
            }
            return Entry(Path.GetFileName(path), (FileAttributes)attributes);
        }

        public IList<FsEntry> List(string path)
        {
            List<FsEntry> entries = new List<FsEntry>();
            foreach (FileSystemInfo item in new DirectoryInfo(path).GetFileSystemInfos())
            {
                entries.Add(Entry(item.Name, item.Attributes));
            }
            return entries;
        }

        private static FsEntry Entry(string name, FileAttributes attributes)
        {
            FsEntry entry = new FsEntry();
            entry.Name = name;
            entry.Directory = (attributes & FileAttributes.Directory) != 0;
            entry.Reparse = (attributes & FileAttributes.ReparsePoint) != 0;
            entry.ReadOnly = (attributes & FileAttributes.ReadOnly) != 0;
            return entry;
        }

        public int RemoveDirectory(string path)
        {
            return RemoveDirectoryW(path) ? 0 : Marshal.GetLastWin32Error();
        }

        public int DeleteFile(string path, bool clearReadOnly)
        {
            if (clearReadOnly)
            {
                SetFileAttributesW(path, (uint)FileAttributes.Normal);
            }
            return DeleteFileW(path) ? 0 : Marshal.GetLastWin32Error();
        }

        public void Sleep(int milliseconds)
        {
            Thread.Sleep(milliseconds);
        }
    }

    public static class Processes
    {
        [StructLayout(LayoutKind.Sequential, CharSet = CharSet.Unicode)]
        private struct PROCESSENTRY32
        {
            public uint dwSize;
            public uint cntUsage;
            public uint th32ProcessID;
            public IntPtr th32DefaultHeapID;
            public uint th32ModuleID;
            public uint cntThreads;
            public uint th32ParentProcessID;
            public int pcPriClassBase;
            public uint dwFlags;
            [MarshalAs(UnmanagedType.ByValTStr, SizeConst = 260)]
            public string szExeFile;
        }

        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern IntPtr CreateToolhelp32Snapshot(uint dwFlags, uint th32ProcessID);

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode, EntryPoint = "Process32FirstW")]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool Process32First(IntPtr hSnapshot, ref PROCESSENTRY32 lppe);

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode, EntryPoint = "Process32NextW")]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool Process32Next(IntPtr hSnapshot, ref PROCESSENTRY32 lppe);

        [DllImport("kernel32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool CloseHandle(IntPtr hObject);

        private const uint TH32CS_SNAPPROCESS = 0x2;

        // Every process whose parent is `root`, and theirs, that started after its parent (a
        // reused process ID never makes an unrelated process a child).
        private static List<int> Descendants(int root)
        {
            Dictionary<int, List<int>> children = new Dictionary<int, List<int>>();
            IntPtr snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
            if (snapshot == new IntPtr(-1))
            {
                return new List<int>();
            }
            try
            {
                PROCESSENTRY32 entry = new PROCESSENTRY32();
                entry.dwSize = (uint)Marshal.SizeOf(typeof(PROCESSENTRY32));
                for (bool more = Process32First(snapshot, ref entry); more; more = Process32Next(snapshot, ref entry))
                {
                    int parent = (int)entry.th32ParentProcessID;
                    List<int> list;
                    if (!children.TryGetValue(parent, out list))
                    {
                        list = new List<int>();
                        children[parent] = list;
                    }
                    list.Add((int)entry.th32ProcessID);
                }
            }
            finally
            {
                CloseHandle(snapshot);
            }
            List<int> found = new List<int>();
            Queue<int> pending = new Queue<int>();
            pending.Enqueue(root);
            while (pending.Count > 0)
            {
                int parent = pending.Dequeue();
                List<int> list;
                if (!children.TryGetValue(parent, out list))
                {
                    continue;
                }
                DateTime parentStart = StartOf(parent);
                foreach (int child in list)
                {
                    if (child == parent || found.Contains(child) || child == root)
                    {
                        continue;
                    }
                    DateTime childStart = StartOf(child);
                    if (childStart == DateTime.MinValue || (parentStart != DateTime.MinValue && childStart < parentStart))
                    {
                        continue;
                    }
                    found.Add(child);
                    pending.Enqueue(child);
                }
            }
            return found;
        }

        private static DateTime StartOf(int pid)
        {
            try
            {
                using (Process process = Process.GetProcessById(pid))
                {
                    return process.StartTime.ToUniversalTime();
                }
            }
            catch (Exception)
            {
                return DateTime.MinValue;
            }
        }

        // Stop `root` and every process it started. Never throws: a process that exits while
        // it is being stopped is what was wanted. Returns how many were stopped.
        public static int KillTree(Process root)
        {
            List<int> tree = new List<int>();
            try
            {
                tree = Descendants(root.Id);
            }
            catch (Exception)
            {
            }
            int killed = 0;
            try
            {
                if (!root.HasExited)
                {
                    root.Kill();
                    killed++;
                }
            }
            catch (Exception)
            {
            }
            foreach (int pid in tree)
            {
                try
                {
                    using (Process process = Process.GetProcessById(pid))
                    {
                        process.Kill();
                        killed++;
                    }
                }
                catch (Exception)
                {
                }
            }
            return killed;
        }

        private static void Signal(ManualResetEvent done)
        {
            try
            {
                done.Set();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        // Run a program with its arguments quoted by the Windows rules, wait at most
        // `timeoutSeconds`, keep the last `tailChars` characters of its output, and stop the
        // whole tree on timeout. Throws only when the program cannot start.
        public static RunResult Run(string program, string[] arguments, int timeoutSeconds, int tailChars)
        {
            RunResult result = new RunResult();
            TailBuffer tail = new TailBuffer(tailChars);
            Stopwatch watch = Stopwatch.StartNew();
            ProcessStartInfo start = new ProcessStartInfo(program, CommandLine.Join(arguments));
            start.UseShellExecute = false;
            start.CreateNoWindow = true;
            start.RedirectStandardOutput = true;
            start.RedirectStandardError = true;
            using (Process process = new Process())
            using (ManualResetEvent outputDone = new ManualResetEvent(false))
            using (ManualResetEvent errorDone = new ManualResetEvent(false))
            {
                process.StartInfo = start;
                process.OutputDataReceived += delegate(object sender, DataReceivedEventArgs e)
                {
                    if (e.Data == null)
                    {
                        Signal(outputDone);
                    }
                    tail.AppendLine(e.Data);
                };
                process.ErrorDataReceived += delegate(object sender, DataReceivedEventArgs e)
                {
                    if (e.Data == null)
                    {
                        Signal(errorDone);
                    }
                    tail.AppendLine(e.Data);
                };
                process.Start();
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                if (process.WaitForExit(checked(timeoutSeconds * 1000)))
                {
                    // the rest of the output, for a moment only: a child LuALL started may keep the pipes
                    // open after LuALL itself exited (WaitForExit() without a limit would wait for it)
                    outputDone.WaitOne(2000);
                    errorDone.WaitOne(2000);
                    result.Exited = true;
                    result.ExitCode = process.ExitCode;
                }
                else
                {
                    result.TimedOut = true;
                    KillTree(process);
                    try
                    {
                        process.WaitForExit(10000);
                    }
                    catch (Exception)
                    {
                    }
                }
                // no output event after this point: the events below would find their waits disposed
                try
                {
                    process.CancelOutputRead();
                    process.CancelErrorRead();
                }
                catch (Exception)
                {
                }
            }
            result.Seconds = watch.Elapsed.TotalSeconds;
            result.Output = tail.ToString();
            return result;
        }
    }

    // The hash cache folder: digests in it are trusted, so nobody but SYSTEM and the
    // Administrators may write there, and a folder someone else created first is refused.
    public static class CacheFolder
    {
        private static SecurityIdentifier LocalSystem()
        {
            return new SecurityIdentifier(WellKnownSidType.LocalSystemSid, null);
        }

        private static SecurityIdentifier Administrators()
        {
            return new SecurityIdentifier(WellKnownSidType.BuiltinAdministratorsSid, null);
        }

        private static DirectorySecurity Protected()
        {
            DirectorySecurity security = new DirectorySecurity();
            security.SetAccessRuleProtection(true, false);
            InheritanceFlags inherit = InheritanceFlags.ContainerInherit | InheritanceFlags.ObjectInherit;
            security.AddAccessRule(new FileSystemAccessRule(LocalSystem(), FileSystemRights.FullControl, inherit, PropagationFlags.None, AccessControlType.Allow));
            security.AddAccessRule(new FileSystemAccessRule(Administrators(), FileSystemRights.FullControl, inherit, PropagationFlags.None, AccessControlType.Allow));
            using (WindowsIdentity self = WindowsIdentity.GetCurrent())
            {
                // the account the agent runs as (a read-only probe account is not an administrator)
                security.AddAccessRule(new FileSystemAccessRule(self.User, FileSystemRights.FullControl, inherit, PropagationFlags.None, AccessControlType.Allow));
            }
            return security;
        }

        // Owners whose files the cache may trust: SYSTEM, the Administrators, the account the
        // agent runs as.
        public static bool TrustedOwner(IdentityReference owner)
        {
            if (owner == null)
            {
                return false;
            }
            SecurityIdentifier sid = owner as SecurityIdentifier;
            if (sid == null)
            {
                return false;
            }
            using (WindowsIdentity self = WindowsIdentity.GetCurrent())
            {
                return sid.Equals(LocalSystem()) || sid.Equals(Administrators()) || sid.Equals(self.User);
            }
        }

        // Create `path` (and missing parents) with a protected DACL, or check the existing folder:
        // a real folder (no reparse point) with a trusted owner; its DACL is then made protected.
        // Returns null when the folder can be trusted, else why not.
        public static string Ensure(string path)
        {
            string full = Path.GetFullPath(path);
            List<string> missing = new List<string>();
            string current = full;
            while (!string.IsNullOrEmpty(current) && !Directory.Exists(current) && !File.Exists(current))
            {
                missing.Insert(0, current);
                current = Path.GetDirectoryName(current);
            }
            foreach (string folder in missing)
            {
                Directory.CreateDirectory(folder, Protected());
            }
            string parent = Path.GetDirectoryName(full);
            string reason = Check(full);
            if (reason == null && missing.Count == 0 && !string.IsNullOrEmpty(parent) && Path.GetPathRoot(full) != parent)
            {
                string parentReason = CheckLink(parent);
                if (parentReason != null)
                {
                    return parentReason;
                }
            }
            if (reason != null)
            {
                return reason;
            }
            DirectoryInfo info = new DirectoryInfo(full);
            DirectorySecurity now = info.GetAccessControl(AccessControlSections.Access);
            if (!now.AreAccessRulesProtected || !OnlyTrustedWriters(now))
            {
                info.SetAccessControl(Protected());
            }
            return null;
        }

        private static string CheckLink(string folder)
        {
            if ((File.GetAttributes(folder) & FileAttributes.ReparsePoint) != 0)
            {
                return string.Format("{0} is a junction or link; the hash cache is not used", folder);
            }
            return null;
        }

        private static string Check(string folder)
        {
            if (File.Exists(folder))
            {
                return string.Format("{0} is a file; the hash cache is not used", folder);
            }
            string link = CheckLink(folder);
            if (link != null)
            {
                return link;
            }
            IdentityReference owner = Directory.GetAccessControl(folder, AccessControlSections.Owner).GetOwner(typeof(SecurityIdentifier));
            if (!TrustedOwner(owner))
            {
                return string.Format("{0} is owned by {1}, not by SYSTEM or the Administrators; the hash cache is not used", folder, owner);
            }
            return null;
        }

        private static bool OnlyTrustedWriters(DirectorySecurity security)
        {
            FileSystemRights writes = FileSystemRights.WriteData | FileSystemRights.AppendData | FileSystemRights.WriteAttributes
                | FileSystemRights.WriteExtendedAttributes | FileSystemRights.Delete | FileSystemRights.DeleteSubdirectoriesAndFiles
                | FileSystemRights.ChangePermissions | FileSystemRights.TakeOwnership;
            foreach (FileSystemAccessRule rule in security.GetAccessRules(true, true, typeof(SecurityIdentifier)))
            {
                if (rule.AccessControlType == AccessControlType.Allow && (rule.FileSystemRights & writes) != 0 && !TrustedOwner(rule.IdentityReference))
                {
                    return false;
                }
            }
            return true;
        }

        // A cache file is read only when it is a regular file with a trusted owner.
        public static bool TrustedFile(string path)
        {
            if ((File.GetAttributes(path) & FileAttributes.ReparsePoint) != 0)
            {
                return false;
            }
            return TrustedOwner(File.GetAccessControl(path, AccessControlSections.Owner).GetOwner(typeof(SecurityIdentifier)));
        }
    }
}
