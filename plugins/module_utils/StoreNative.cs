// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Win32 calls the Windows agent needs and .NET Framework 4.x does not offer:
// - FileId: the NTFS file ID of an open file (volume serial number and file index), so that
//   the hash cache notices a file replaced by another with the same size and modification time;
// - MoveReplace: MoveFileEx with MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH, the
//   atomic replacement of definfo.dat by a fully written temporary file on the same volume.

using System;
using System.ComponentModel;
using System.IO;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ansible_collections.mailsec.smsmse.plugins.module_utils.StoreNative
{
    public static class Native
    {
        private const uint MOVEFILE_REPLACE_EXISTING = 0x1;
        private const uint MOVEFILE_WRITE_THROUGH = 0x8;

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

        [DllImport("kernel32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool GetFileInformationByHandle(SafeFileHandle hFile, out BY_HANDLE_FILE_INFORMATION lpFileInformation);

        [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
        [return: MarshalAs(UnmanagedType.Bool)]
        private static extern bool MoveFileEx(string lpExistingFileName, string lpNewFileName, uint dwFlags);

        // "volume:index" in hex, for a file opened by the caller.
        public static string FileId(FileStream stream)
        {
            BY_HANDLE_FILE_INFORMATION info;
            if (!GetFileInformationByHandle(stream.SafeFileHandle, out info))
            {
                throw new Win32Exception(Marshal.GetLastWin32Error());
            }
            return string.Format("{0:x8}:{1:x8}{2:x8}", info.VolumeSerialNumber, info.FileIndexHigh, info.FileIndexLow);
        }

        // Replace destination by source in one step (same volume), flushed before returning.
        public static void MoveReplace(string source, string destination)
        {
            if (!MoveFileEx(source, destination, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
            {
                throw new Win32Exception(Marshal.GetLastWin32Error(), string.Format("cannot replace {0}", destination));
            }
        }
    }
}
