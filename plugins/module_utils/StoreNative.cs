// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy
//
// Win32 calls the Windows agent's host (SmsmseEngineWin.cs) needs and .NET Framework 4.x does
// not offer, each with the retries an antivirus filter calls for (StorePolicy.RetryPolicy). Paths go to Win32 in their
// \\?\ form (StorePolicy.LongPath): no MAX_PATH limit, no renaming of "name." or "name ".
// - file stamps: size, last write time, change time, the NTFS file ID and the file's USN in the
//   volume's change journal (the change time alone can be set back by the file's writer; the USN
//   cannot), read from an open handle;
// - files opened for reading with FileShare.ReadWrite | Delete (never blocking LiveUpdate or the
//   product's own copy job);
// - ReplaceFile for definfo.dat (keeps the file's ACL and attributes), MoveFileEx for folders;
// - the Restart Manager's list of processes and services that hold a set's files (open handles
//   and loaded DLLs alike), without opening any of them;
// - free space and volume identity of any folder (mount points and UNC paths included);
// - a process runner that captures the output's tail and runs the program in a job object;
// - folders only trusted accounts can change: the hash cache, the quarantine destination, and
//   the privacy report of a store (owner, reparse points, who may write).

using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics;
using System.Text;
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
    // What identifies one state of a file. Size, times and file ID alone can all be restored by
    // the file's writer (SetFileInformationByHandle sets ChangeTime too); the USN cannot: every
    // change writes a record to the volume's change journal. Usn is -1 where the volume keeps no
    // journal (FAT, a network share): then equal stamps prove nothing and no cache is used.
    public sealed class FileStamp
    {
        public long Size;
        public long LastWrite;
        public long ChangeTime;
        public string FileId;
        public long Usn = -1;

        public bool SameAs(FileStamp other)
        {
            return other != null && Size == other.Size && LastWrite == other.LastWrite && ChangeTime == other.ChangeTime && FileId == other.FileId && Usn == other.Usn;
        }
    }

    public sealed class RunResult
    {
        public int ExitCode;
        public bool Exited;
        public bool TimedOut;
        public string Output;
        public double Seconds;
        // the program ran in a kill-on-close job object (false: it could not be assigned to one)
        public bool InJob;
    }

    public static class Native
    {
        private const uint MOVEFILE_REPLACE_EXISTING = 0x1;
        private const uint MOVEFILE_WRITE_THROUGH = 0x8;
        private const uint REPLACEFILE_IGNORE_MERGE_ERRORS = 0x2;
        private const uint FILE_READ_ATTRIBUTES = 0x80;
        private const uint GENERIC_READ = 0x80000000;
        private const uint GENERIC_WRITE = 0x40000000;
        private const uint FILE_SHARE_ALL = 0x7;
        private const uint FILE_SHARE_READ = 0x1;
        private const uint FILE_SHARE_DELETE = 0x4;
        private const uint CREATE_NEW = 1;
        private const uint OPEN_EXISTING = 3;
        private const uint FILE_FLAG_WRITE_THROUGH = 0x80000000;
        private const uint FILE_FLAG_SEQUENTIAL_SCAN = 0x08000000;
        private const uint FILE_FLAG_BACKUP_SEMANTICS = 0x02000000;
        private const uint FILE_FLAG_OPEN_REPARSE_POINT = 0x00200000;
        private const uint FILE_TYPE_DISK = 0x1;
        private const int FileBasicInfo = 0;
        // CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 58, METHOD_NEITHER, FILE_ANY_ACCESS) and (61, METHOD_BUFFERED)
        private const uint FSCTL_READ_FILE_USN_DATA = 0x000900EB;
        private const uint FSCTL_QUERY_USN_JOURNAL = 0x000900F4;
        private const int ERROR_INVALID_FUNCTION = 1;
        private const int ERROR_JOURNAL_DELETE_IN_PROGRESS = 1178;
        private const int ERROR_JOURNAL_NOT_ACTIVE = 1179;

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

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode, EntryPoint = "CreateFileW")]
        private static extern SafeFileHandle CreateFile(string lpFileName, uint dwDesiredAccess, uint dwShareMode, IntPtr lpSecurityAttributes, uint dwCreationDisposition, uint dwFlagsAndAttributes, IntPtr hTemplateFile);

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode, EntryPoint = "GetFinalPathNameByHandleW")]
        private static extern uint GetFinalPathNameByHandle(SafeFileHandle hFile, [Out] StringBuilder lpszFilePath, uint cchFilePath, uint dwFlags);

        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern uint GetFileType(SafeFileHandle hFile);

        [DllImport("kernel32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool DeviceIoControl(SafeFileHandle hDevice, uint dwIoControlCode, IntPtr lpInBuffer, uint nInBufferSize, [Out] byte[] lpOutBuffer, uint nOutBufferSize, out uint lpBytesReturned, IntPtr lpOverlapped);

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode, EntryPoint = "GetLongPathNameW")]
        private static extern uint GetLongPathName(string lpszShortPath, [Out] StringBuilder lpszLongPath, uint cchBuffer);

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode, EntryPoint = "GetVolumePathNameW")]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool GetVolumePathName(string lpszFileName, [Out] StringBuilder lpszVolumePathName, uint cchBufferLength);

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode, EntryPoint = "GetVolumeNameForVolumeMountPointW")]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool GetVolumeNameForVolumeMountPoint(string lpszVolumeMountPoint, [Out] StringBuilder lpszVolumeName, uint cchBufferLength);

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode, EntryPoint = "MoveFileExW")]
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
            stamp.Usn = FileUsn(handle);
            return stamp;
        }

        // The file's USN (its last record in the volume's change journal), or -1 when it cannot be
        // read (a file system without a journal: FAT, a network share). -1 is never a cache hit.
        public static long FileUsn(SafeFileHandle handle)
        {
            // a USN_RECORD_V3 with a 255-character name is 76 + 510 bytes
            byte[] buffer = new byte[1024];
            uint returned;
            if (!DeviceIoControl(handle, FSCTL_READ_FILE_USN_DATA, IntPtr.Zero, 0, buffer, (uint)buffer.Length, out returned, IntPtr.Zero))
            {
                return -1;
            }
            try
            {
                return Usn.FromRecord(buffer, (int)returned);
            }
            catch (FormatException)
            {
                return -1;
            }
        }

        // The UsnJournalID of the change journal of the volume that holds `path`. Throws when the
        // volume keeps no active journal (the hash cache is then not used). Asked first through a
        // handle to the folder itself, then through one to the volume.
        public static ulong JournalId(string path)
        {
            string folder = ExistingAncestor(path);
            int code;
            using (SafeFileHandle handle = OpenAttributes(folder))
            {
                ulong id;
                code = QueryJournal(handle, out id);
                if (code == 0)
                {
                    return id;
                }
            }
            if (code == ERROR_JOURNAL_NOT_ACTIVE || code == ERROR_JOURNAL_DELETE_IN_PROGRESS)
            {
                throw NoJournal(folder, code);
            }
            using (SafeFileHandle volume = OpenVolume(folder))
            {
                ulong id;
                code = QueryJournal(volume, out id);
                if (code == 0)
                {
                    return id;
                }
            }
            if (code == ERROR_JOURNAL_NOT_ACTIVE || code == ERROR_JOURNAL_DELETE_IN_PROGRESS || code == ERROR_INVALID_FUNCTION)
            {
                throw NoJournal(folder, code);
            }
            throw new Win32Exception(code, string.Format("cannot read the change journal of the volume of {0}: {1}", folder, new Win32Exception(code).Message));
        }

        private static Win32Exception NoJournal(string folder, int code)
        {
            return new Win32Exception(code, string.Format("the volume of {0} keeps no active NTFS change journal (fsutil usn createjournal enables one)", folder));
        }

        private static int QueryJournal(SafeFileHandle handle, out ulong id)
        {
            id = 0;
            byte[] buffer = new byte[128];
            uint returned;
            if (!DeviceIoControl(handle, FSCTL_QUERY_USN_JOURNAL, IntPtr.Zero, 0, buffer, (uint)buffer.Length, out returned, IntPtr.Zero))
            {
                return Marshal.GetLastWin32Error();
            }
            id = Usn.JournalId(buffer, (int)returned);
            return 0;
        }

        // A handle to the volume that holds `folder` (no access asked: queries only).
        private static SafeFileHandle OpenVolume(string folder)
        {
            StringBuilder mount = new StringBuilder(1024);
            if (!GetVolumePathName(folder, mount, (uint)mount.Capacity))
            {
                int code = Marshal.GetLastWin32Error();
                throw new Win32Exception(code, string.Format("cannot find the volume of {0}: {1}", folder, new Win32Exception(code).Message));
            }
            string mountPoint = mount.ToString();
            if (!mountPoint.EndsWith("\\"))
            {
                mountPoint += "\\";
            }
            StringBuilder volume = new StringBuilder(64);
            if (!GetVolumeNameForVolumeMountPoint(mountPoint, volume, (uint)volume.Capacity))
            {
                int code = Marshal.GetLastWin32Error();
                throw new Win32Exception(code, string.Format("{0} is not on a local volume with a change journal: {1}", folder, new Win32Exception(code).Message));
            }
            // "\\?\Volume{guid}\" names the root folder; without the backslash it names the volume
            SafeFileHandle handle = CreateFile(volume.ToString().TrimEnd('\\'), 0, FILE_SHARE_ALL, IntPtr.Zero, OPEN_EXISTING, 0, IntPtr.Zero);
            if (handle.IsInvalid)
            {
                int code = Marshal.GetLastWin32Error();
                handle.Dispose();
                throw new Win32Exception(code, string.Format("cannot open the volume of {0}: {1}", folder, new Win32Exception(code).Message));
            }
            return handle;
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

        // `path` with every 8.3 short name expanded (through its \\?\ form: no 260-character limit); the path
        // as given when it, or a folder above it, does not exist (nothing to expand: the probe says it is missing).
        public static string LongName(string path)
        {
            string prefixed = LongPath.Of(path);
            StringBuilder buffer = new StringBuilder(1024);
            uint length = GetLongPathName(prefixed, buffer, (uint)buffer.Capacity);
            if (length > buffer.Capacity)
            {
                buffer = new StringBuilder((int)length);
                length = GetLongPathName(prefixed, buffer, (uint)buffer.Capacity);
            }
            if (length == 0 || length > buffer.Capacity)
            {
                int code = Marshal.GetLastWin32Error();
                if (code == Win32Error.FileNotFound || code == Win32Error.PathNotFound)
                {
                    return path;
                }
                throw new Win32Exception(code, string.Format("cannot expand the short names of {0}", path));
            }
            return LongPath.Plain(buffer.ToString());
        }

        // Whether another handle holds the file open for writing: an open for reading that does not share
        // write is refused with a sharing violation while one does. (An open for attributes alone is never
        // share-checked, so the open asks to read; it is closed at once. A writer opening the file in that
        // instant meets a sharing violation, which it retries as it does an antivirus filter's.)
        public static bool WriterPresent(string path)
        {
            using (SafeFileHandle handle = CreateFile(LongPath.Of(path), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, IntPtr.Zero, OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT, IntPtr.Zero))
            {
                if (!handle.IsInvalid)
                {
                    return false;
                }
                int code = Marshal.GetLastWin32Error();
                if (code == Win32Error.SharingViolation)
                {
                    return true;
                }
                throw new Win32Exception(code, string.Format("cannot open {0}", path));
            }
        }

        // The folder's path with every reparse point resolved: the final path of a handle opened through
        // them (FILE_NAME_NORMALIZED, VOLUME_NAME_DOS), without its \\?\ prefix.
        public static string FinalPath(string path)
        {
            SafeFileHandle handle = CreateFile(LongPath.Of(path), FILE_READ_ATTRIBUTES, FILE_SHARE_ALL, IntPtr.Zero, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, IntPtr.Zero);
            if (handle.IsInvalid)
            {
                int code = Marshal.GetLastWin32Error();
                handle.Dispose();
                throw new Win32Exception(code, string.Format("cannot open {0}", path));
            }
            using (handle)
            {
                StringBuilder found = new StringBuilder(512);
                uint length = GetFinalPathNameByHandle(handle, found, (uint)found.Capacity, 0);
                if (length >= found.Capacity)
                {
                    found = new StringBuilder((int)length + 1);
                    length = GetFinalPathNameByHandle(handle, found, (uint)found.Capacity, 0);
                }
                if (length == 0 || length >= found.Capacity)
                {
                    throw new Win32Exception(Marshal.GetLastWin32Error(), string.Format("cannot resolve {0}", path));
                }
                string final = found.ToString(0, (int)length);
                if (final.StartsWith("\\\\?\\UNC\\", StringComparison.Ordinal))
                {
                    return "\\\\" + final.Substring(8);
                }
                return final.StartsWith("\\\\?\\", StringComparison.Ordinal) ? final.Substring(4) : final;
            }
        }

        private static SafeFileHandle OpenAttributes(string path)
        {
            SafeFileHandle handle = CreateFile(LongPath.Of(path), FILE_READ_ATTRIBUTES, FILE_SHARE_ALL, IntPtr.Zero, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, IntPtr.Zero);
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
        // (FileShare.ReadWrite | FileShare.Delete: CreateFile's FILE_SHARE_ALL; the \\?\ path needs
        // CreateFile, .NET Framework 4.5's FileStream refuses it.)
        // The link itself is opened, never what it leads to (FILE_FLAG_OPEN_REPARSE_POINT), and what
        // was opened must be a regular file: a link, a folder or a device is refused, access denied.
        public static FileStream OpenShared(string path, int buffer)
        {
            FileStream stream = Open(path, GENERIC_READ, FILE_SHARE_ALL, OPEN_EXISTING, FILE_FLAG_SEQUENTIAL_SCAN | FILE_FLAG_OPEN_REPARSE_POINT, FileAccess.Read, buffer);
            try
            {
                BY_HANDLE_FILE_INFORMATION info;
                if (!GetFileInformationByHandle(stream.SafeFileHandle, out info))
                {
                    throw new Win32Exception(Marshal.GetLastWin32Error());
                }
                string kind = Kinds.Of((FileAttributes)info.FileAttributes);
                if (kind != "file")
                {
                    throw new Win32Exception(Win32Error.AccessDenied, string.Format("{0} is not a regular file ({1}); it is never opened", path, kind));
                }
                if (GetFileType(stream.SafeFileHandle) != FILE_TYPE_DISK)
                {
                    // a pipe, console or character device answers with what it produces: never read as a file
                    throw new Win32Exception(Win32Error.AccessDenied, string.Format("{0} is not a file on a disk (a pipe or a device); it is never read", path));
                }
                return stream;
            }
            catch
            {
                stream.Dispose();
                throw;
            }
        }

        private static FileStream Open(string path, uint access, uint share, uint disposition, uint flags, FileAccess streamAccess, int buffer)
        {
            SafeFileHandle handle = CreateFile(LongPath.Of(path), access, share, IntPtr.Zero, disposition, flags, IntPtr.Zero);
            if (handle.IsInvalid)
            {
                int code = Marshal.GetLastWin32Error();
                handle.Dispose();
                throw new Win32Exception(code, string.Format("cannot open {0}: {1}", path, new Win32Exception(code).Message));
            }
            try
            {
                return new FileStream(handle, streamAccess, buffer);
            }
            catch
            {
                handle.Dispose();
                throw;
            }
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
            string from = LongPath.Of(source);
            string to = LongPath.Of(target);
            int code = RetryPolicy.Run(delegate { return Attempt(MoveFileEx(from, to, MOVEFILE_WRITE_THROUGH)); }, retrySeconds, Thread.Sleep);
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
    }

    // Which processes and services hold files, from the Restart Manager: it sees open handles and
    // mapped images (a loaded DLL whose loader closed its handle) alike, and opens none of the
    // files, so the scanner's own opens never fail because of the check.
    public static class RestartManager
    {
        private const int ERROR_MORE_DATA = 234;
        private const int CCH_RM_SESSION_KEY = 32;
        private const int RmService = 3;
        private const int Batch = 256;

        [StructLayout(LayoutKind.Sequential)]
        private struct RM_UNIQUE_PROCESS
        {
            public uint dwProcessId;
            public System.Runtime.InteropServices.ComTypes.FILETIME ProcessStartTime;
        }

        [StructLayout(LayoutKind.Sequential, CharSet = CharSet.Unicode)]
        private struct RM_PROCESS_INFO
        {
            public RM_UNIQUE_PROCESS Process;
            [MarshalAs(UnmanagedType.ByValTStr, SizeConst = 256)]
            public string strAppName;
            [MarshalAs(UnmanagedType.ByValTStr, SizeConst = 64)]
            public string strServiceShortName;
            public int ApplicationType;
            public uint AppStatus;
            public uint TSSessionId;
            [MarshalAs(UnmanagedType.Bool)]
            public bool bRestartable;
        }

        // The Restart Manager returns its error code; it does not set the thread's last error.
        [DllImport("rstrtmgr.dll", CharSet = CharSet.Unicode)]
        private static extern int RmStartSession(out uint pSessionHandle, uint dwSessionFlags, StringBuilder strSessionKey);

        [DllImport("rstrtmgr.dll", CharSet = CharSet.Unicode)]
        private static extern int RmRegisterResources(uint dwSessionHandle, uint nFiles, string[] rgsFilenames, uint nApplications, [In] RM_UNIQUE_PROCESS[] rgApplications, uint nServices, string[] rgsServiceNames);

        [DllImport("rstrtmgr.dll", CharSet = CharSet.Unicode)]
        private static extern int RmGetList(uint dwSessionHandle, out uint pnProcInfoNeeded, ref uint pnProcInfo, [In, Out] RM_PROCESS_INFO[] rgAffectedApps, out uint lpdwRebootReasons);

        [DllImport("rstrtmgr.dll")]
        private static extern int RmEndSession(uint dwSessionHandle);

        private static Win32Exception Error(int code, string what)
        {
            return new Win32Exception(code, what + ": " + new Win32Exception(code).Message);
        }

        // Every process or service holding one of `files` (full paths), each once. Throws when the
        // Restart Manager cannot answer: "nobody holds them" is never a guess.
        public static List<Holder> HoldersOf(IList<string> files)
        {
            List<Holder> holders = new List<Holder>();
            if (files.Count == 0)
            {
                return holders;
            }
            uint session;
            StringBuilder key = new StringBuilder(CCH_RM_SESSION_KEY + 1);
            int code = RmStartSession(out session, 0, key);
            if (code != 0)
            {
                throw Error(code, "cannot start a Restart Manager session");
            }
            try
            {
                foreach (string[] batch in Holders.Batches(files, Batch))
                {
                    code = RmRegisterResources(session, (uint)batch.Length, batch, 0, null, 0, null);
                    if (code != 0)
                    {
                        throw Error(code, "cannot register the set's files with the Restart Manager");
                    }
                }
                RM_PROCESS_INFO[] infos = new RM_PROCESS_INFO[0];
                uint count = 0;
                for (int attempt = 0; ; attempt++)
                {
                    uint needed;
                    uint reasons;
                    count = (uint)infos.Length;
                    code = RmGetList(session, out needed, ref count, infos.Length == 0 ? null : infos, out reasons);
                    if (code == 0)
                    {
                        break;
                    }
                    // the list grew between the two calls: ask again, a few times
                    if (code != ERROR_MORE_DATA || attempt >= 4)
                    {
                        throw Error(code, "cannot list the processes that hold the set's files");
                    }
                    infos = new RM_PROCESS_INFO[needed + 4];
                }
                for (int i = 0; i < count && i < infos.Length; i++)
                {
                    Holder holder = new Holder();
                    holder.ProcessId = (int)infos[i].Process.dwProcessId;
                    holder.Name = infos[i].strAppName;
                    holder.Service = infos[i].ApplicationType == RmService ? infos[i].strServiceShortName : null;
                    holders.Add(holder);
                }
            }
            finally
            {
                RmEndSession(session);
            }
            return holders;
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

        [StructLayout(LayoutKind.Sequential)]
        private struct JOBOBJECT_BASIC_LIMIT_INFORMATION
        {
            public long PerProcessUserTimeLimit;
            public long PerJobUserTimeLimit;
            public uint LimitFlags;
            public UIntPtr MinimumWorkingSetSize;
            public UIntPtr MaximumWorkingSetSize;
            public uint ActiveProcessLimit;
            public UIntPtr Affinity;
            public uint PriorityClass;
            public uint SchedulingClass;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct IO_COUNTERS
        {
            public ulong ReadOperationCount;
            public ulong WriteOperationCount;
            public ulong OtherOperationCount;
            public ulong ReadTransferCount;
            public ulong WriteTransferCount;
            public ulong OtherTransferCount;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct JOBOBJECT_EXTENDED_LIMIT_INFORMATION
        {
            public JOBOBJECT_BASIC_LIMIT_INFORMATION BasicLimitInformation;
            public IO_COUNTERS IoInfo;
            public UIntPtr ProcessMemoryLimit;
            public UIntPtr JobMemoryLimit;
            public UIntPtr PeakProcessMemoryUsed;
            public UIntPtr PeakJobMemoryUsed;
        }

        private sealed class JobHandle : SafeHandleZeroOrMinusOneIsInvalid
        {
            private JobHandle() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                return CloseHandle(handle);
            }
        }

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode, EntryPoint = "CreateJobObjectW")]
        private static extern JobHandle CreateJobObject(IntPtr lpJobAttributes, string lpName);

        [DllImport("kernel32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool SetInformationJobObject(JobHandle hJob, int JobObjectInfoClass, ref JOBOBJECT_EXTENDED_LIMIT_INFORMATION lpJobObjectInfo, uint cbJobObjectInfoLength);

        [DllImport("kernel32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool AssignProcessToJobObject(JobHandle hJob, IntPtr hProcess);

        [DllImport("kernel32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool TerminateJobObject(JobHandle hJob, uint uExitCode);

        private const int JobObjectExtendedLimitInformation = 9;
        private const uint JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000;

        // A job whose processes all end when its last handle closes (also when this process dies).
        private static JobHandle NewKillOnCloseJob()
        {
            JobHandle job = CreateJobObject(IntPtr.Zero, null);
            if (job.IsInvalid)
            {
                int code = Marshal.GetLastWin32Error();
                job.Dispose();
                throw new Win32Exception(code, "cannot create a job object");
            }
            JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits = new JOBOBJECT_EXTENDED_LIMIT_INFORMATION();
            limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
            if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation, ref limits, (uint)Marshal.SizeOf(typeof(JOBOBJECT_EXTENDED_LIMIT_INFORMATION))))
            {
                int code = Marshal.GetLastWin32Error();
                job.Dispose();
                throw new Win32Exception(code, "cannot make the job object end its processes");
            }
            return job;
        }

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

        // Run a program with its arguments quoted by the Windows rules, in a kill-on-close job
        // object, wait at most `timeoutSeconds`, keep the last `tailChars` characters of its output.
        // On timeout the job's processes (the program and what it started after it joined the
        // job) are ended, and its descendants by parent ID as well. A process Windows starts for it
        // on request, such as a DCOM server, is neither in the job nor its descendant, and is not
        // ended. Throws only when the program cannot start.
        public static RunResult Run(string program, string[] arguments, int timeoutSeconds, int tailChars)
        {
            RunResult result = new RunResult();
            using (JobHandle job = NewKillOnCloseJob())
            {
                RunIn(job, program, arguments, timeoutSeconds, tailChars, result);
            }
            return result;
        }

        private static void RunIn(JobHandle job, string program, string[] arguments, int timeoutSeconds, int tailChars, RunResult result)
        {
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
                // a process started in the instant before this call is not in the job (a child of the
                // program is then still found by KillTree)
                result.InJob = AssignProcessToJobObject(job, process.Handle);
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
                    if (result.InJob)
                    {
                        TerminateJobObject(job, 1);
                    }
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
        }
    }

    // Folders only trusted accounts can change (StorePolicy.Privacy has the rule): read from the
    // host's security descriptors, created with a protected DACL, checked at every level.
    public static class PrivateFolder
    {
        private static SecurityIdentifier Sid(string value)
        {
            return new SecurityIdentifier(value);
        }

        // The levels from the volume root down to `path`, each with its owner and DACL.
        public static List<LevelInfo> Inspect(string path)
        {
            string full = Path.GetFullPath(path);
            List<string> chain = new List<string>();
            for (string current = full; !string.IsNullOrEmpty(current); current = Path.GetDirectoryName(current))
            {
                chain.Insert(0, current);
            }
            List<LevelInfo> levels = new List<LevelInfo>();
            foreach (string folder in chain)
            {
                levels.Add(Level(folder));
            }
            return levels;
        }

        private static LevelInfo Level(string folder)
        {
            LevelInfo level = new LevelInfo();
            level.Path = folder;
            level.Exists = Directory.Exists(folder) || File.Exists(folder);
            if (!level.Exists)
            {
                return level;
            }
            level.Reparse = (File.GetAttributes(folder) & FileAttributes.ReparsePoint) != 0;
            DirectorySecurity security = Directory.GetAccessControl(folder, AccessControlSections.Owner | AccessControlSections.Access);
            IdentityReference owner = security.GetOwner(typeof(SecurityIdentifier));
            level.OwnerSid = owner == null ? null : owner.Value;
            foreach (FileSystemAccessRule rule in security.GetAccessRules(true, true, typeof(SecurityIdentifier)))
            {
                AceInfo ace = new AceInfo();
                ace.Sid = rule.IdentityReference.Value;
                ace.Mask = (int)rule.FileSystemRights;
                ace.Allow = rule.AccessControlType == AccessControlType.Allow;
                ace.InheritOnly = (rule.PropagationFlags & PropagationFlags.InheritOnly) != 0;
                level.Aces.Add(ace);
            }
            return level;
        }

        // An account's name ("BUILTIN\Users"), or its SID when it has none.
        public static string AccountOf(string sid)
        {
            if (string.IsNullOrEmpty(sid))
            {
                return "nobody";
            }
            try
            {
                return new SecurityIdentifier(sid).Translate(typeof(NTAccount)).Value;
            }
            catch (Exception)
            {
                return sid;
            }
        }

        public static HashSet<string> Trusted(bool self)
        {
            List<string> extra = new List<string>();
            if (self)
            {
                using (WindowsIdentity identity = WindowsIdentity.GetCurrent())
                {
                    extra.Add(identity.User.Value);
                }
            }
            return Privacy.Trusted(extra);
        }

        public static List<PrivacyProblem> Problems(string path, bool self)
        {
            return Privacy.Problems(Inspect(path), Trusted(self));
        }

        // The first problem as a sentence (path, account, fix), and how many more there are.
        public static string Describe(IList<PrivacyProblem> problems)
        {
            if (problems.Count == 0)
            {
                return null;
            }
            string text = Privacy.Message(problems[0], AccountOf(problems[0].Sid));
            if (problems.Count > 1)
            {
                text += string.Format(" (and {0} more)", problems.Count - 1);
            }
            return text;
        }

        private static DirectorySecurity Protected(bool self)
        {
            DirectorySecurity security = new DirectorySecurity();
            security.SetAccessRuleProtection(true, false);
            InheritanceFlags inherit = InheritanceFlags.ContainerInherit | InheritanceFlags.ObjectInherit;
            security.AddAccessRule(new FileSystemAccessRule(Sid(Privacy.LocalSystem), FileSystemRights.FullControl, inherit, PropagationFlags.None, AccessControlType.Allow));
            security.AddAccessRule(new FileSystemAccessRule(Sid(Privacy.Administrators), FileSystemRights.FullControl, inherit, PropagationFlags.None, AccessControlType.Allow));
            if (self)
            {
                using (WindowsIdentity identity = WindowsIdentity.GetCurrent())
                {
                    // the account the agent runs as (a read-only probe account is not an administrator)
                    security.AddAccessRule(new FileSystemAccessRule(identity.User, FileSystemRights.FullControl, inherit, PropagationFlags.None, AccessControlType.Allow));
                }
            }
            return security;
        }

        // Make `path` a folder only trusted accounts can change, or say why it is not one (null: it
        // is). Missing levels are created with a protected DACL (never in check mode: `create`
        // false), with `marker` written in the last one. The DACL of an existing folder is changed
        // only when the marker shows this collection created it; a reparse point at any level, an
        // untrusted owner, or a parent others may delete from is never repaired, only reported.
        // `self`: the account the agent runs as is trusted too (the hash cache is that account's).
        public static string Ensure(string path, bool create, string marker, bool self)
        {
            string full = Path.GetFullPath(path);
            HashSet<string> trusted = Trusted(self);
            List<LevelInfo> levels = Inspect(full);
            List<PrivacyProblem> problems = Privacy.Problems(levels, trusted);
            if (problems.Count > 0)
            {
                return Describe(problems);
            }
            LevelInfo leaf = levels[levels.Count - 1];
            if (leaf.Exists && !Directory.Exists(full))
            {
                return string.Format("{0} is a file, not a folder", full);
            }
            if (!leaf.Exists)
            {
                if (!create)
                {
                    return string.Format("{0} does not exist and is not created in check mode", full);
                }
                foreach (LevelInfo level in levels)
                {
                    if (!level.Exists)
                    {
                        // a folder someone creates first in the meantime keeps its owner: found below
                        Directory.CreateDirectory(level.Path, Protected(self));
                        TakeOwnership(level.Path, trusted);
                    }
                }
                if (marker != null)
                {
                    File.WriteAllText(Path.Combine(full, marker), "created by mailsec.smsmse\r\n");
                }
                return Describe(Privacy.Problems(Inspect(full), trusted));
            }
            return null;
        }

        // A folder this collection created (its marker is a regular file with a trusted owner) whose
        // DACL let others in again: made protected once more (never in check mode).
        public static string Repair(string path, bool create, string marker, bool self)
        {
            string full = Path.GetFullPath(path);
            HashSet<string> trusted = Trusted(self);
            List<PrivacyProblem> problems = Privacy.Problems(Inspect(full), trusted);
            if (problems.Count == 0)
            {
                return null;
            }
            foreach (PrivacyProblem problem in problems)
            {
                if (problem.Path != full || problem.Kind != "writer")
                {
                    return Describe(problems);
                }
            }
            string markerPath = Path.Combine(full, marker);
            if (!create || !File.Exists(markerPath) || !TrustedFile(markerPath, trusted))
            {
                return Describe(problems) + (create ? "; it was not created by this collection, so its permissions are left as they are" : "; not changed in check mode");
            }
            new DirectoryInfo(full).SetAccessControl(Protected(self));
            return Describe(Privacy.Problems(Inspect(full), trusted));
        }

        private static void TakeOwnership(string folder, HashSet<string> trusted)
        {
            DirectorySecurity security = Directory.GetAccessControl(folder, AccessControlSections.Owner);
            IdentityReference owner = security.GetOwner(typeof(SecurityIdentifier));
            if (owner != null && trusted.Contains(owner.Value))
            {
                return;
            }
            try
            {
                // an administrator may make the Administrators group the owner of what it created
                DirectorySecurity owned = new DirectorySecurity();
                owned.SetOwner(Sid(Privacy.Administrators));
                Directory.SetAccessControl(folder, owned);
            }
            catch (Exception)
            {
                // reported by the check that follows, naming the owner
            }
        }

        public static bool TrustedFile(string path, HashSet<string> trusted)
        {
            if ((File.GetAttributes(path) & FileAttributes.ReparsePoint) != 0)
            {
                return false;
            }
            IdentityReference owner = File.GetAccessControl(path, AccessControlSections.Owner).GetOwner(typeof(SecurityIdentifier));
            return owner != null && trusted.Contains(owner.Value);
        }
    }

    // The hash cache folder: digests in it are trusted, so only trusted accounts (and the account
    // the agent runs as) may change it; a folder someone else created, or whose parents others
    // control, is refused and every file is read instead.
    public static class CacheFolder
    {
        // The marker this collection writes in a cache folder it created.
        public const string Marker = ".mailsec-smsmse-cache";

        // null when the folder can be trusted, else why not. `create` false (check mode): nothing is
        // created and no permission is changed.
        public static string Ensure(string path, bool create)
        {
            string reason = PrivateFolder.Ensure(path, create, Marker, true);
            if (reason == null)
            {
                return null;
            }
            if (Directory.Exists(path))
            {
                reason = PrivateFolder.Repair(path, create, Marker, true);
            }
            return reason == null ? null : reason + "; the hash cache is not used";
        }

        // A cache file is read only when it is a regular file with a trusted owner.
        public static bool TrustedFile(string path)
        {
            return PrivateFolder.TrustedFile(path, PrivateFolder.Trusted(true));
        }
    }
}
