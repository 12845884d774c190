// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Runs the Windows agent's platform-neutral C# (plugins/module_utils/StorePolicy.cs) under mono.
// Prints one line per check: "ok <name>" or "FAIL <name>: <detail>", then "value <key> <text>"
// lines that tests/unit/test_csharp.py compares with Python's answer to the same question.

using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.IO;
using ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy;

public static class PolicyTests
{
    private static int failures;

    private static void Check(string name, bool ok, string detail)
    {
        if (ok)
        {
            Console.WriteLine("ok " + name);
        }
        else
        {
            failures++;
            Console.WriteLine("FAIL " + name + ": " + detail);
        }
    }

    private static void Equal(string name, object want, object got)
    {
        Check(name, object.Equals(want, got), string.Format("want <{0}>, got <{1}>", want, got));
    }

    // An in-memory file system with folders, files and links (a link's target is a path).
    private sealed class FakeFs : ITreeFs
    {
        public readonly Dictionary<string, FsEntry> Items = new Dictionary<string, FsEntry>(StringComparer.OrdinalIgnoreCase);
        public readonly HashSet<string> Busy = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        public readonly Dictionary<string, int> FailTimes = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        public readonly HashSet<string> Unreadable = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        public int Slept;

        public void Add(string path, bool directory, bool reparse)
        {
            FsEntry entry = new FsEntry();
            entry.Name = path.Substring(path.LastIndexOf('\\') + 1);
            entry.Directory = directory;
            entry.Reparse = reparse;
            Items[path] = entry;
        }

        public FsEntry Stat(string path)
        {
            if (Unreadable.Contains(path))
            {
                throw new UnauthorizedAccessException("denied: " + path);
            }
            FsEntry entry;
            return Items.TryGetValue(path, out entry) ? entry : null;
        }

        public IList<FsEntry> List(string path)
        {
            if (Items[path].Reparse)
            {
                throw new InvalidOperationException("listed through a link: " + path);
            }
            List<FsEntry> found = new List<FsEntry>();
            foreach (KeyValuePair<string, FsEntry> item in Items)
            {
                if (item.Key.StartsWith(path + "\\", StringComparison.OrdinalIgnoreCase) && item.Key.IndexOf('\\', path.Length + 1) < 0)
                {
                    found.Add(item.Value);
                }
            }
            return found;
        }

        private int Transient(string path)
        {
            int left;
            if (FailTimes.TryGetValue(path, out left) && left > 0)
            {
                FailTimes[path] = left - 1;
                return Win32Error.SharingViolation;
            }
            if (Busy.Contains(path))
            {
                return Win32Error.SharingViolation;
            }
            return 0;
        }

        public int RemoveDirectory(string path)
        {
            int code = Transient(path);
            if (code != 0)
            {
                return code;
            }
            if (!Items[path].Reparse && List(path).Count > 0)
            {
                return Win32Error.DirNotEmpty;
            }
            Items.Remove(path);
            return 0;
        }

        public int DeleteFile(string path, bool clearReadOnly)
        {
            int code = Transient(path);
            if (code != 0)
            {
                return code;
            }
            Items.Remove(path);
            return 0;
        }

        public void Sleep(int milliseconds)
        {
            Slept += milliseconds;
        }
    }

    private static void TreeTests()
    {
        // defect 1: a set folder that is a junction: the link goes, its target stays whole
        FakeFs fs = new FakeFs();
        fs.Add("C:\\store", true, false);
        fs.Add("C:\\store\\20260101.001", true, true);
        fs.Add("C:\\victim", true, false);
        fs.Add("C:\\victim\\precious.dat", false, false);
        List<string> remaining = new List<string>();
        int code = Tree.Remove(fs, "C:\\store\\20260101.001", 5, remaining);
        Equal("tree_link_at_top_removed_itself", 0, code);
        Check("tree_link_target_untouched", fs.Stat("C:\\victim\\precious.dat") != null, "the link's target was emptied");
        Check("tree_link_gone", fs.Stat("C:\\store\\20260101.001") == null, "the link is still there");

        // a link inside a set: removed, never followed
        fs = new FakeFs();
        fs.Add("C:\\s", true, false);
        fs.Add("C:\\s\\a.dat", false, false);
        fs.Add("C:\\s\\inner", true, true);
        fs.Add("C:\\victim", true, false);
        fs.Add("C:\\victim\\b.dat", false, false);
        remaining = new List<string>();
        code = Tree.Remove(fs, "C:\\s", 5, remaining);
        Equal("tree_inner_link_removed", 0, code);
        Check("tree_inner_link_target_untouched", fs.Stat("C:\\victim\\b.dat") != null, "followed an inner link");
        Check("tree_all_gone", fs.Stat("C:\\s") == null, "the folder is still there");

        // an antivirus filter holds a file for a moment: retried, then gone
        fs = new FakeFs();
        fs.Add("C:\\t", true, false);
        fs.Add("C:\\t\\x.dat", false, false);
        fs.FailTimes["C:\\t\\x.dat"] = 3;
        remaining = new List<string>();
        code = Tree.Remove(fs, "C:\\t", 5, remaining);
        Equal("tree_transient_retried", 0, code);
        Check("tree_transient_slept", fs.Slept > 0 && fs.Slept <= 5000, "slept " + fs.Slept);

        // defect 3: a file the scanner keeps open: best-effort, the rest goes, what remains is named
        fs = new FakeFs();
        fs.Add("C:\\u", true, false);
        fs.Add("C:\\u\\held.dll", false, false);
        fs.Add("C:\\u\\free.dat", false, false);
        fs.Busy.Add("C:\\u\\held.dll");
        remaining = new List<string>();
        code = Tree.Remove(fs, "C:\\u", 1, remaining);
        Equal("tree_held_file_code", Win32Error.SharingViolation, code);
        Check("tree_held_other_files_removed", fs.Stat("C:\\u\\free.dat") == null, "stopped at the first held file");
        Check("tree_held_remaining_named", remaining.Contains("C:\\u\\held.dll") && remaining.Contains("C:\\u"), string.Join(",", remaining.ToArray()));
        Check("tree_held_retry_bounded", fs.Slept <= 2 * 1000 + 1000, "slept " + fs.Slept);
    }

    private static void UnreadableTests()
    {
        // a leftover whose attributes cannot be read is reported, never an exception that ends the cleanup
        FakeFs fs = new FakeFs();
        fs.Add("C:\\v", true, false);
        fs.Unreadable.Add("C:\\v");
        List<string> remaining = new List<string>();
        int code = -1;
        try
        {
            code = Tree.Remove(fs, "C:\\v", 1, remaining);
        }
        catch (Exception exception)
        {
            Check("tree_unreadable_does_not_throw", false, exception.Message);
        }
        Equal("tree_unreadable_code", Win32Error.AccessDenied, code);
        Check("tree_unreadable_remaining", remaining.Contains("C:\\v"), string.Join(",", remaining.ToArray()));
    }

    private static void ErrorTests()
    {
        // defect 4: decided by the HResult, not by IOException's type
        Equal("error_sharing_in_use", "in_use", Win32Error.ResultFor(Win32Error.FromException(new IOException("x", unchecked((int)0x80070020)))));
        Equal("error_lock_in_use", "in_use", Win32Error.ResultFor(Win32Error.FromException(new IOException("x", unchecked((int)0x80070021)))));
        Equal("error_missing_folder", "ERROR_PATH_NOT_FOUND", Win32Error.Name(Win32Error.FromException(new DirectoryNotFoundException("x"))));
        Equal("error_missing_folder_failed", "failed", Win32Error.ResultFor(Win32Error.FromException(new DirectoryNotFoundException("x"))));
        Equal("error_path_too_long", "ERROR_FILENAME_EXCED_RANGE", Win32Error.Name(Win32Error.FromException(new PathTooLongException("x"))));
        Equal("error_access_denied", "ERROR_ACCESS_DENIED", Win32Error.Name(Win32Error.FromException(new UnauthorizedAccessException("x"))));
        Equal("error_win32_exception", "ERROR_DIR_NOT_EMPTY", Win32Error.Name(Win32Error.FromException(new Win32Exception(145))));
        Equal("error_wrapped", 32, Win32Error.FromException(new InvalidOperationException("outer", new IOException("inner", unchecked((int)0x80070020)))));
        Equal("error_unknown_name", "WIN32_9999", Win32Error.Name(9999));
        Equal("error_generic_io_is_not_in_use", "failed", Win32Error.ResultFor(Win32Error.FromException(new IOException("x"))));
        StepError described = Win32Error.Describe(new InvalidOperationException(new string('m', 10000)), "stage", 4096);
        Equal("error_message_bounded", 4096, described.Message.Length);
        Equal("error_code_without_win32", "InvalidOperationException", described.Code);
    }

    private static void RetryTests()
    {
        // defect 5: 5, 32 and 145 are retried for a few seconds; others fail at once
        Check("retry_transient_codes", RetryPolicy.IsTransient(5) && RetryPolicy.IsTransient(32) && RetryPolicy.IsTransient(145), "");
        Check("retry_not_found_is_final", !RetryPolicy.IsTransient(2) && !RetryPolicy.IsTransient(3) && !RetryPolicy.IsTransient(183), "");
        int calls = 0;
        int slept = 0;
        int code = RetryPolicy.Run(delegate { calls++; return calls < 4 ? 32 : 0; }, 5, delegate(int ms) { slept += ms; });
        Equal("retry_succeeds_after_filter", 0, code);
        Equal("retry_calls", 4, calls);
        calls = 0;
        slept = 0;
        code = RetryPolicy.Run(delegate { calls++; return 5; }, 5, delegate(int ms) { slept += ms; });
        Equal("retry_gives_up_with_last_error", 5, code);
        Check("retry_budget_kept", slept <= 5000 && slept >= 4000, "slept " + slept);
        calls = 0;
        code = RetryPolicy.Run(delegate { calls++; return 3; }, 5, delegate(int ms) { });
        Check("retry_final_error_once", code == 3 && calls == 1, "calls " + calls);
    }

    private static void NameTests()
    {
        Check("version_ascii", Names.IsVersion("20260101.001"), "");
        Check("version_fullwidth_refused", !Names.IsVersion("2026010\uFF11.001"), "");
        Check("version_arabic_indic_refused", !Names.IsVersion("2026010\u0661.001"), "");
        Check("version_newline_refused", !Names.IsVersion("20260101.001\n"), "");
        Check("version_short_refused", !Names.IsVersion("2026010.001"), "");
        Check("component_ok", Names.IsComponent(".smsmse-staging-20260101.001-ab12"), "");
        Check("component_separator_refused", !Names.IsComponent("..\\x") && !Names.IsComponent("a/b") && !Names.IsComponent("C:x") && !Names.IsComponent(".."), "");
        // finding 15: names Win32 would open as a device or silently rename are never a component
        foreach (string reserved in new string[] { "CON", "nul", "NUL.txt", "con .dat", "Com1", "LPT9.log", "COM\u00b9", "lpt\u00b2.x", "CONIN$", "conout$.y", "AUX.", "prn  " })
        {
            Check("component_device_refused_" + reserved.Replace(' ', '_'), !Names.IsComponent(reserved), reserved);
        }
        foreach (string renamed in new string[] { "a.", "a ", "20260101.001.", "x. ." })
        {
            Check("component_trailing_refused_" + renamed.Replace(' ', '_'), !Names.IsComponent(renamed), renamed);
        }
        foreach (string fine in new string[] { "CONSOLE", "COM10", "LPT", "nul_", "acon", ".con", "COM\u2074", "a.b", ".smsmse-trash-x" })
        {
            Check("component_fine_" + fine, Names.IsComponent(fine), fine);
        }
        Equal("text_head", "abcd...", Text.Head("abcdefghij", 7));
        Equal("text_tail", "hij", Text.Tail("abcdefghij", 3));
        // a cut never splits a surrogate pair: half of one would reach the controller as U+FFFD
        Equal("text_head_pair", "abc...", Text.Head("abc\uD83D\uDE00defgh", 7));
        Equal("text_head_pair_short", "a", Text.Head("a\uD83D\uDE00", 2));
        Equal("text_tail_pair", "de", Text.Tail("abc\uD83D\uDE00de", 3));
        Equal("text_tail_none", "", Text.Tail("abc", 0));
        Equal("text_tail_pair_kept", "\uD83D\uDE00de", Text.Tail("abc\uD83D\uDE00de", 4));
        Equal("text_code", "A_b_9", Text.Code("A-b 9"));
        TailBuffer tail = new TailBuffer(10);
        for (int i = 0; i < 100; i++)
        {
            tail.AppendLine("line " + i);
        }
        Equal("tail_buffer_keeps_end", "e 98\nline 99\n".Substring(3), tail.ToString().Substring(tail.ToString().Length - 10));
        Equal("tail_buffer_bounded", 10, tail.ToString().Length);
    }

    private static string Thrown(Func<string> call)
    {
        try
        {
            return "returned " + call();
        }
        catch (ArgumentException)
        {
            return "ArgumentException";
        }
        catch (FormatException)
        {
            return "FormatException";
        }
    }

    private static void LongPathTests()
    {
        // finding 15: every path the native calls get is \\?\-prefixed (no MAX_PATH, no renaming of "x.")
        Equal("longpath_drive", "\\\\?\\C:\\store\\x.", LongPath.Of("C:\\store\\x."));
        Equal("longpath_unc", "\\\\?\\UNC\\srv\\share\\defs", LongPath.Of("\\\\srv\\share\\defs"));
        Equal("longpath_kept", "\\\\?\\C:\\a", LongPath.Of("\\\\?\\C:\\a"));
        Equal("longpath_slashes", "\\\\?\\C:\\a\\b", LongPath.Of("C:/a/b"));
        string deep = "C:\\" + new string('d', 200) + "\\" + new string('e', 200);
        Equal("longpath_over_260", "\\\\?\\" + deep, LongPath.Of(deep));
        Equal("longpath_relative_refused", "ArgumentException", Thrown(delegate { return LongPath.Of("store\\x"); }));
        Equal("longpath_dotdot_refused", "ArgumentException", Thrown(delegate { return LongPath.Of("C:\\store\\..\\Windows"); }));
        Equal("longpath_device_refused", "ArgumentException", Thrown(delegate { return LongPath.Of("\\\\.\\PhysicalDrive0"); }));
        Equal("longpath_drive_relative_refused", "ArgumentException", Thrown(delegate { return LongPath.Of("C:store"); }));
    }

    private static byte[] Record(int major, int usnOffset, long usn, int length)
    {
        byte[] buffer = new byte[length];
        BitConverter.GetBytes(length).CopyTo(buffer, 0);
        BitConverter.GetBytes((ushort)major).CopyTo(buffer, 4);
        BitConverter.GetBytes(usn).CopyTo(buffer, usnOffset);
        return buffer;
    }

    private static void UsnTests()
    {
        // finding 4: the USN is read from the record the file system returns, V2 and V3
        Equal("usn_v2", 0x123456789AL, Usn.FromRecord(Record(2, 24, 0x123456789AL, 80), 80));
        Equal("usn_v3", 77L, Usn.FromRecord(Record(3, 40, 77, 96), 96));
        Equal("usn_v4_refused", "FormatException", Thrown(delegate { return Usn.FromRecord(Record(4, 24, 1, 80), 80).ToString(); }));
        Equal("usn_short_refused", "FormatException", Thrown(delegate { return Usn.FromRecord(Record(2, 24, 1, 80), 30).ToString(); }));
        byte[] journal = new byte[64];
        BitConverter.GetBytes(0x01D9ABCDEF012345UL).CopyTo(journal, 0);
        Equal("usn_journal_id", 0x01D9ABCDEF012345UL, Usn.JournalId(journal, 64));
        Equal("usn_journal_short_refused", "FormatException", Thrown(delegate { return Usn.JournalId(journal, 8).ToString(); }));
        // a rewrite that restores size, times and file ID still moves the USN: the stamps differ
        string before = Usn.ChangeStamp(0x01D9ABCDEF012345UL, 1000, 133000000000000000L);
        string after = Usn.ChangeStamp(0x01D9ABCDEF012345UL, 1096, 133000000000000000L);
        Check("usn_rewrite_changes_stamp", before != after, before);
        Check("usn_new_journal_changes_stamp", before != Usn.ChangeStamp(0x01D9ABCDEF012346UL, 1000, 133000000000000000L), before);
        Equal("usn_stamp_text", "01d9abcdef012345:1000:133000000000000000", before);
    }

    private static void HolderTests()
    {
        // finding 2: holders named once each, services by their short name
        List<Holder> holders = new List<Holder>();
        Holder scanner = new Holder();
        scanner.ProcessId = 4242;
        scanner.Name = "Symantec Mail Security for Microsoft Exchange";
        scanner.Service = "SMSMSE";
        Holder other = new Holder();
        other.ProcessId = 77;
        other.Name = "naveng-test.exe";
        holders.Add(scanner);
        holders.Add(other);
        holders.Add(scanner);
        List<string> names = Holders.Names(holders);
        Equal("holders_deduplicated", 2, names.Count);
        Check("holders_service_named", names.Contains("Symantec Mail Security for Microsoft Exchange (service SMSMSE, pid 4242)"), string.Join("; ", names.ToArray()));
        Check("holders_process_named", names.Contains("naveng-test.exe (pid 77)"), string.Join("; ", names.ToArray()));
        List<string> files = new List<string>();
        for (int i = 0; i < 601; i++)
        {
            files.Add("f" + i);
        }
        List<string[]> batches = Holders.Batches(files, 256);
        Check("holders_batches", batches.Count == 3 && batches[2].Length == 89 && batches[2][88] == "f600", batches.Count.ToString());
        Equal("holders_no_files_no_batch", 0, Holders.Batches(new List<string>(), 256).Count);
    }

    private static AceInfo Ace(string sid, int mask, bool inheritOnly)
    {
        AceInfo ace = new AceInfo();
        ace.Sid = sid;
        ace.Mask = mask;
        ace.Allow = true;
        ace.InheritOnly = inheritOnly;
        return ace;
    }

    private static LevelInfo Level(string path, string owner, params AceInfo[] aces)
    {
        LevelInfo level = new LevelInfo();
        level.Path = path;
        level.Exists = true;
        level.OwnerSid = owner;
        foreach (AceInfo ace in aces)
        {
            level.Aces.Add(ace);
        }
        return level;
    }

    private const string Users = "S-1-5-32-545";
    private const string AuthenticatedUsers = "S-1-5-11";

    private static List<LevelInfo> ProgramDataStore(params AceInfo[] storeAces)
    {
        // C:\ and C:\ProgramData with Windows' default ACLs (create rights for users, no delete)
        List<LevelInfo> levels = new List<LevelInfo>();
        levels.Add(Level("C:\\", Privacy.TrustedInstaller, Ace(Privacy.Administrators, 0x1F01FF, false), Ace(AuthenticatedUsers, 0x4, false), Ace(AuthenticatedUsers, 0x1301BF, true), Ace(Users, 0x1200A9, false)));
        levels.Add(Level("C:\\ProgramData", Privacy.LocalSystem, Ace(Privacy.LocalSystem, 0x1F01FF, false), Ace(Privacy.CreatorOwner, 0x10000000, true), Ace(Users, 0x116, false)));
        levels.Add(Level("C:\\ProgramData\\Symantec", Privacy.Administrators, Ace(Privacy.Administrators, 0x1F01FF, false)));
        levels.Add(Level("C:\\ProgramData\\Symantec\\VirusDefs", Privacy.LocalSystem, storeAces));
        return levels;
    }

    private static void PrivacyTests()
    {
        HashSet<string> trusted = Privacy.Trusted(null);
        // a store with a private DACL below Windows' default C:\ and C:\ProgramData: private
        List<PrivacyProblem> found = Privacy.Problems(ProgramDataStore(Ace(Privacy.LocalSystem, 0x1F01FF, false), Ace(Users, 0x1200A9, false)), trusted);
        Equal("privacy_default_parents_private", 0, found.Count);
        // finding 5: the store inherits %ProgramData%'s "Users may create" ACE: not private, Users named
        found = Privacy.Problems(ProgramDataStore(Ace(Privacy.LocalSystem, 0x1F01FF, false), Ace(Users, 0x116, false)), trusted);
        Check("privacy_inherited_users_write", found.Count == 1 && found[0].Kind == "writer" && found[0].Sid == Users && found[0].Path.EndsWith("VirusDefs"), found.Count.ToString());
        Check("privacy_message_names_fix", Privacy.Message(found[0], "BUILTIN\\Users").Contains("icacls") && Privacy.Message(found[0], "BUILTIN\\Users").Contains("BUILTIN\\Users"), "");
        // icacls takes an account by SID as *S-1-...: a name is localized (VORDEFINIERT\Benutzer) and a deleted account
        // has none, so the command the message names gives the SID
        string german = Privacy.Message(found[0], "VORDEFINIERT\\Benutzer");
        Check("privacy_message_icacls_takes_the_sid", german.Contains("/remove:g *" + Users) && german.Contains("VORDEFINIERT\\Benutzer"), german);
        PrivacyProblem owned = new PrivacyProblem();
        owned.Path = "C:\\ProgramData\\Symantec";
        owned.Kind = "owner";
        owned.Sid = "S-1-5-21-1-2-3-1105";
        string owner = Privacy.Message(owned, "S-1-5-21-1-2-3-1105");
        Check("privacy_message_setowner_takes_the_sid", owner.Contains("/setowner *" + Privacy.Administrators) && !owner.Contains("/setowner Administrators"), owner);
        // an inheritable-only grant on the store root reaches every set below it
        found = Privacy.Problems(ProgramDataStore(Ace(AuthenticatedUsers, 0x1301BF, true)), trusted);
        Check("privacy_inherit_only_on_root", found.Count == 1 && found[0].Sid == AuthenticatedUsers, found.Count.ToString());
        // GENERIC_WRITE is a write
        found = Privacy.Problems(ProgramDataStore(Ace(Users, 0x40000000, false)), trusted);
        Check("privacy_generic_write", found.Count == 1, found.Count.ToString());
        // CREATOR OWNER stands for the owner, who is checked on its own
        found = Privacy.Problems(ProgramDataStore(Ace(Privacy.CreatorOwner, 0x10000000, true)), trusted);
        Equal("privacy_creator_owner_ignored", 0, found.Count);
        // a parent a user may delete children of, or owns, or that is a junction: not private
        List<LevelInfo> levels = ProgramDataStore();
        levels[2].Aces.Add(Ace(Users, 0x40, false));
        found = Privacy.Problems(levels, trusted);
        Check("privacy_parent_delete_child", found.Count == 1 && found[0].Path == "C:\\ProgramData\\Symantec" && found[0].Rights == "delete children", found.Count.ToString());
        levels = ProgramDataStore();
        levels[2].OwnerSid = "S-1-5-21-1-2-3-1001";
        levels[3].Reparse = true;
        found = Privacy.Problems(levels, trusted);
        Check("privacy_parent_owner_and_reparse", found.Count == 2 && found[0].Kind == "owner" && found[1].Kind == "reparse", found.Count.ToString());
        // a level that does not exist yet is not checked; an extra trusted account is trusted
        levels = ProgramDataStore(Ace("S-1-5-21-9-9-9-500", 0x1F01FF, false));
        Equal("privacy_extra_untrusted", 1, Privacy.Problems(levels, trusted).Count);
        Equal("privacy_extra_trusted", 0, Privacy.Problems(levels, Privacy.Trusted(new string[] { "S-1-5-21-9-9-9-500" })).Count);
        levels[3].Exists = false;
        Equal("privacy_missing_level_skipped", 0, Privacy.Problems(levels, trusted).Count);
    }

    private static void ListingTests()
    {
        // a Windows name that is not text is escaped and marked, never sent as another name
        WireName lone = Wire.Escape("a\uD800b.dat", 1024);
        Check("wire_lone_surrogate_escaped", lone.Escaped && lone.Text == "a\\ud800b.dat", lone.Text);
        WireName pair = Wire.Escape("\uD83D\uDE00.dat", 1024);
        Check("wire_pair_kept", !pair.Escaped && pair.Text == "\uD83D\uDE00.dat", pair.Text);
        WireName cut = Wire.Escape(new string('a', 256) + "\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00", 260);
        Check("wire_cut_never_splits_a_pair", cut.Escaped && cut.Text == new string('a', 256) + "\uD83D\uDE00...", cut.Text);
        Check("wire_message_bounded", Wire.Message(new string('m', 5000), 2048).Length == 2048, "");
        // a crowded store: sets first, newest first, then the others; the kept ones in listing order
        string[] names = { "20260101.001", "20260102.001", "20260103.001", "a", "b", "z" };
        Bounded bounded = Listing.Bound(names, 4);
        Equal("bound_sets_first", "0,1,2,3", Join(bounded.Kept));
        Equal("bound_omitted_ranked", "4,5", Join(bounded.Omitted));
        Bounded few = Listing.Bound(names, 6);
        Check("bound_all_when_room", Join(few.Kept) == "0,1,2,3,4,5" && few.Omitted.Length == 0, Join(few.Kept));
        // what an entry is, by its own attributes: a junction is a link, never a folder to enter
        Equal("kind_junction_is_link", "link", Kinds.Of(FileAttributes.Directory | FileAttributes.ReparsePoint));
        Equal("kind_file_symlink_is_link", "link", Kinds.Of(FileAttributes.Archive | FileAttributes.ReparsePoint));
        Equal("kind_folder", "dir", Kinds.Of(FileAttributes.Directory));
        Equal("kind_file", "file", Kinds.Of(FileAttributes.Archive | FileAttributes.ReadOnly));
        Equal("kind_normal_file", "file", Kinds.Of(FileAttributes.Normal));
        Equal("kind_device", "other", Kinds.Of(FileAttributes.Device));
    }

    private static string Join(int[] values)
    {
        List<string> parts = new List<string>();
        foreach (int value in values)
        {
            parts.Add(value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        return string.Join(",", parts.ToArray());
    }

    // Text as the four-digit hex of each UTF-16 code unit, lone surrogates included (no encoder
    // replaces them on the way), and as the hex of its UTF-8 bytes.
    private static string Units(string text)
    {
        System.Text.StringBuilder hex = new System.Text.StringBuilder();
        foreach (char c in text)
        {
            hex.Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
        }
        return hex.ToString();
    }

    private static string Utf8(string text)
    {
        return BitConverter.ToString(System.Text.Encoding.UTF8.GetBytes(text)).Replace("-", "").ToLowerInvariant();
    }

    // Names for test_csharp.py to compare with the POSIX agent's escaping (scan.wire_name).
    public static readonly object[][] WireCases =
    {
        new object[] { "plain.dat", 1024 },
        new object[] { "a\uD800b.dat", 1024 },
        new object[] { "\uDC80x", 1024 },
        new object[] { "\uD83D\uDE00ok", 1024 },
        new object[] { "\uDE00\uD83D", 1024 },
        new object[] { "x\uD83D", 1024 },
        new object[] { new string('n', 300), 260 },
        new object[] { new string('a', 258) + "\uD83D\uDE00\uD83D\uDE00", 260 },
        new object[] { new string('a', 256) + "\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00", 260 },
        new object[] { new string('a', 255) + "\uD800", 260 },
        new object[] { "caf\u00e9\uDFFF", 260 },
    };

    private static void Values()
    {
        for (int i = 0; i < WireCases.Length; i++)
        {
            string name = (string)WireCases[i][0];
            int limit = (int)WireCases[i][1];
            WireName wire = Wire.Escape(name, limit);
            Console.WriteLine("value wire{0} {1} {2} {3} {4}", i, Units(name), limit, Utf8(wire.Text), wire.Escaped);
        }
        string[] crowded = { "20250101.001", "20260101.001", "zz", "20270101.001", "aa", "20260101.002", "mm", "20240101.001" };
        Array.Sort(crowded, StringComparer.Ordinal);
        Bounded bound = Listing.Bound(crowded, 5);
        Console.WriteLine("value bound_names {0}", string.Join(",", crowded));
        Console.WriteLine("value bound_kept {0}", Join(bound.Kept));
        Console.WriteLine("value bound_omitted {0}", Join(bound.Omitted));
        string[] arguments = { "-s", "", "a b", "quote\"inside", "trail\\", "trail space\\", "back\\\\\"q", "C:\\Program Files\\x" };
        for (int i = 0; i < arguments.Length; i++)
        {
            Console.WriteLine("value quote{0} {1}", i, CommandLine.Quote(arguments[i]));
        }
        Console.WriteLine("value join {0}", CommandLine.Join(arguments));
        foreach (string path in new string[] { "C:\\ProgramData\\Symantec\\Definitions\\VirusDefs\\20260101.001\\virscan1.dat", "/lab/mail01/csapi/20260101.001/zdone.dat", "\u00e9t\u00e9" })
        {
            Console.WriteLine("value fraction {0} {1}", path.Replace(' ', '_'), CacheExpiry.Fraction(path).ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        }
        Console.WriteLine("value fresh_half {0}", CacheExpiry.IsFresh(1000, 1000 - 299, 600, "p"));
        Console.WriteLine("value fresh_full {0}", CacheExpiry.IsFresh(1000, 1000 - 600, 600, "p"));
        Console.WriteLine("value fresh_zero {0}", CacheExpiry.IsFresh(1000, 1000, 0, "p"));
    }

    public static int Main()
    {
        TreeTests();
        UnreadableTests();
        ErrorTests();
        RetryTests();
        NameTests();
        LongPathTests();
        UsnTests();
        HolderTests();
        PrivacyTests();
        Check("shortname_seen", ShortNames.Maybe(@"C:\PROGRA~3\Symantec\Definitions\VirusDefs"), "");
        Check("shortname_long_path_not_seen", !ShortNames.Maybe(@"C:\ProgramData\Symantec\Definitions\VirusDefs"), "");
        Check("shortname_tilde_word_not_seen", !ShortNames.Maybe(@"C:\backup~old\~1\x"), "");
        Equal("longpath_plain_drive", @"C:\ProgramData\Symantec", LongPath.Plain(@"\\?\C:\ProgramData\Symantec"));
        Equal("longpath_plain_unc", @"\\server\share\defs", LongPath.Plain(@"\\?\UNC\server\share\defs"));
        ListingTests();
        Values();
        return failures == 0 ? 0 : 1;
    }
}
