// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The Windows host's file layer (SmsmseEngineWin.cs) where mono can run it: the mapping of what
// .NET and Win32 throw on Windows to the HostException the engine decides by, fed the exception
// types Windows really throws, and the WinFiles calls that are plain .NET. Prints "ok <check>" or
// "FAIL <check>: why"; the argument is a scratch folder.

using System;
using System.ComponentModel;
using System.IO;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineWin;

namespace WinLayerTests
{
    public static class Program
    {
        private static int failures;

        private static void Check(string name, bool ok, string why)
        {
            if (ok)
            {
                Console.WriteLine("ok " + name);
            }
            else
            {
                failures++;
                Console.WriteLine("FAIL " + name + ": " + why);
            }
        }

        private static void Maps(string name, Exception thrown, int code)
        {
            HostException mapped = WinErrors.Map(thrown, @"C:\store\x");
            Check(name, mapped != null && mapped.Code == code && mapped.Message.Contains(@"C:\store\x"), mapped == null ? "null" : mapped.Code + " " + mapped.Message);
        }

        // the code a WinFiles call fails with: -1 when it throws something other than HostException, 0 when it works
        private static int CodeOf(Action call, out string why)
        {
            why = "";
            try
            {
                call();
                return 0;
            }
            catch (HostException exception)
            {
                why = exception.Message;
                return exception.Code;
            }
            catch (Exception exception)
            {
                why = exception.GetType().Name + ": " + exception.Message;
                return -1;
            }
        }

        public static int Main(string[] args)
        {
            Maps("map_file_exists", new IOException("The file exists.", unchecked((int)0x80070050)), 80);
            Maps("map_already_exists", new IOException("Cannot create a file when that file already exists.", unchecked((int)0x800700B7)), 183);
            Maps("map_sharing_violation", new IOException("The process cannot access the file.", unchecked((int)0x80070020)), 32);
            Maps("map_win32_access_denied", new Win32Exception(5), 5);
            Maps("map_win32_sharing_violation", new Win32Exception(32), 32);
            Maps("map_win32_not_same_device", new Win32Exception(17), 17);
            Maps("map_win32_unable_to_move_replacement", new Win32Exception(1176), 1176);
            Maps("map_unauthorized_access", new UnauthorizedAccessException("Access to the path is denied."), 5);
            Maps("map_path_too_long", new PathTooLongException("The specified path is too long."), 206);
            Maps("map_file_not_found", new FileNotFoundException("Could not find file."), 2);
            Maps("map_directory_not_found", new DirectoryNotFoundException("Could not find a part of the path."), 3);
            Maps("map_wrapped_win32", new InvalidOperationException("wrapped", new Win32Exception(32)), 32);
            Maps("map_bad_name", new ArgumentException("Illegal characters in path."), 123);
            HostException host = new HostException(145, "not empty", "x");
            Check("map_host_exception_is_kept", WinErrors.Map(host, "y") == host, "a new exception");
            HostException other = WinErrors.Map(new IOException("strange"), "p");
            Check("map_unknown_keeps_the_message", other.Code != 0 && other.Message.Contains("strange"), other.Code + " " + other.Message);

            DateTime due = new DateTime(2026, 12, 7, 18, 30, 0, DateTimeKind.Local);
            string task = StartTask.Xml("SMS & MSE", due, @"C:\Windows\System32");
            Check("start_task_runs_sc_by_its_full_path", task.Contains(@"<Command>C:\Windows\System32\sc.exe</Command>"), task);
            Check("start_task_quotes_the_service_name", task.Contains("<Arguments>start &quot;SMS &amp; MSE&quot;</Arguments>"), task);
            Check("start_task_expires_and_is_deleted", task.Contains("<StartBoundary>2026-12-07T18:30:00</StartBoundary>") && task.Contains("<EndBoundary>2026-12-08T18:30:00</EndBoundary>") && task.Contains("<DeleteExpiredTaskAfter>PT0S</DeleteExpiredTaskAfter>"), task);
            Check("start_task_refuses_a_name_with_a_quote", StartTask.Xml("SMS\"MSE", due, @"C:\Windows\System32") == null, "a name with a quote was put on a command line");

            string root = Path.Combine(args[0], "win");
            Directory.CreateDirectory(root);
            WinFiles files = new WinFiles();
            string existing = Path.Combine(root, "lock");
            File.WriteAllText(existing, "held");
            string why;
            int code = CodeOf(delegate { files.CreateNew(existing).Dispose(); }, out why);
            Check("create_new_on_a_left_lock_is_file_exists", code == 80 || code == 183, code + " " + why);
            code = CodeOf(delegate { files.CreateFolder(root); }, out why);
            Check("create_folder_existing_is_already_exists", code == 183, code + " " + why);
            code = CodeOf(delegate { files.List(Path.Combine(root, "missing")); }, out why);
            Check("list_missing_folder_is_path_not_found", code == 3, code + " " + why);
            code = CodeOf(delegate { files.Delete(Path.Combine(root, "missing", "file")); }, out why);
            Check("delete_below_a_missing_folder_is_host_exception", code > 0, code + " " + why);
            code = CodeOf(delegate { files.ProbeWritable(Path.Combine(root, "missing.dat")); }, out why);
            Check("probe_missing_file_is_file_not_found", code == 2, code + " " + why);
            code = CodeOf(delegate { files.CopyTimes(Path.Combine(root, "missing.dat"), existing); }, out why);
            Check("copy_times_from_a_missing_file_is_host_exception", code > 0, code + " " + why);
            string full = Path.Combine(root, "full");
            Directory.CreateDirectory(full);
            File.WriteAllText(Path.Combine(full, "f"), "x");
            code = CodeOf(delegate { files.DeleteFolder(full); }, out why);
            Check("delete_folder_not_empty_is_host_exception", code > 0, code + " " + why);
            string odd = Path.Combine(root, "odd");
            Directory.CreateDirectory(Path.Combine(odd, "..."));
            code = CodeOf(delegate { files.List(odd); }, out why);
            Check("list_refuses_a_name_a_path_cannot_address", code == 123 && why.Contains("..."), code + " " + why);
            string readOnly = Path.Combine(root, "definfo.dat");
            File.WriteAllText(readOnly, "[DefDates]");
            File.SetAttributes(readOnly, FileAttributes.ReadOnly);
            code = CodeOf(delegate { files.ProbeWritable(readOnly); }, out why);
            Check("probe_read_only_pointer_asks_for_attributes_and_delete", code == 0 && (File.GetAttributes(readOnly) & FileAttributes.ReadOnly) != 0, code + " " + why);
            return failures == 0 ? 0 : 1;
        }
    }
}
