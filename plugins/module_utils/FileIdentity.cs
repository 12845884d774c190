// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The NTFS file ID of an open file (volume serial number and file index), so that the
// Windows agent's hash cache notices a file replaced by another with the same size and
// modification time. .NET Framework 4.x: no API newer than GetFileInformationByHandle.

using System;
using System.ComponentModel;
using System.IO;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ansible_collections.mailsec.smsmse.plugins.module_utils.FileIdentity
{
    public static class FileId
    {
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

        // "volume:index" in hex, for a file opened by the caller.
        public static string Get(FileStream stream)
        {
            BY_HANDLE_FILE_INFORMATION info;
            if (!GetFileInformationByHandle(stream.SafeFileHandle, out info))
            {
                throw new Win32Exception(Marshal.GetLastWin32Error());
            }
            return string.Format("{0:x8}:{1:x8}{2:x8}", info.VolumeSerialNumber, info.FileIndexHigh, info.FileIndexLow);
        }
    }
}
