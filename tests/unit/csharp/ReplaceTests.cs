// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Runs the pointer replacement and the shared retry budget of plugins/module_utils/StorePolicy.cs
// under mono, on an in-memory file system that fails the way ReplaceFile does on Windows.
// Prints "ok <name>" or "FAIL <name>: <detail>" per check (read by tests/unit/test_csharp_apply.py).

using System;
using System.Collections.Generic;
using ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy;

public static class ReplaceTests
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

    // Files by name -> content; ReplaceFile fails with the queued errors, removing the target
    // first when the error is one ReplaceFile gives after it removed it.
    private sealed class FakeFs : IReplaceFs
    {
        public readonly Dictionary<string, string> Files = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        public readonly HashSet<string> ReadOnly = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        public readonly Queue<int> ReplaceErrors = new Queue<int>();
        public readonly Queue<int> MoveErrors = new Queue<int>();
        public bool RemoveTargetOnError;
        public int Replaces;
        public int Slept;

        public bool Exists(string path)
        {
            return Files.ContainsKey(path);
        }

        public bool IsReadOnly(string path)
        {
            return ReadOnly.Contains(path);
        }

        public int SetReadOnly(string path, bool readOnly)
        {
            if (readOnly)
            {
                ReadOnly.Add(path);
            }
            else
            {
                ReadOnly.Remove(path);
            }
            return 0;
        }

        public int ReplaceFile(string target, string replacement)
        {
            Replaces++;
            if (ReadOnly.Contains(target))
            {
                return Win32Error.AccessDenied;
            }
            if (ReplaceErrors.Count > 0)
            {
                int code = ReplaceErrors.Dequeue();
                if (RemoveTargetOnError)
                {
                    Files.Remove(target);
                }
                return code;
            }
            Files[target] = Files[replacement];
            Files.Remove(replacement);
            return 0;
        }

        public int MoveFile(string source, string target)
        {
            if (MoveErrors.Count > 0)
            {
                return MoveErrors.Dequeue();
            }
            if (Files.ContainsKey(target))
            {
                return Win32Error.AlreadyExists;
            }
            Files[target] = Files[source];
            Files.Remove(source);
            return 0;
        }

        public void Sleep(int milliseconds)
        {
            Slept += milliseconds;
        }
    }

    private const string Target = "C:\\s\\definfo.dat";
    private const string Temp = "C:\\s\\.smsmse-definfo-1.tmp";

    private static FakeFs Store()
    {
        FakeFs fs = new FakeFs();
        fs.Files[Target] = "old";
        fs.Files[Temp] = "new";
        return fs;
    }

    private static void ReplaceChecks()
    {
        FakeFs fs = Store();
        Check("replace_plain", PointerReplace.Replace(fs, Target, Temp, 5) == 0 && fs.Files[Target] == "new" && !fs.Exists(Temp), "");

        // finding 1: 1176 after the target was removed: the new file is moved into place, never lost
        fs = Store();
        fs.RemoveTargetOnError = true;
        fs.ReplaceErrors.Enqueue(Win32Error.UnableToMoveReplacement);
        int code = PointerReplace.Replace(fs, Target, Temp, 5);
        Check("replace_1176_target_gone_finishes_move", code == 0 && fs.Exists(Target) && fs.Files[Target] == "new" && !fs.Exists(Temp), "code " + code);

        // the same with 1177 and with an error ReplaceFile is not documented to give after removing
        foreach (int error in new int[] { Win32Error.UnableToMoveReplacement2, Win32Error.AccessDenied, 1 })
        {
            fs = Store();
            fs.RemoveTargetOnError = true;
            fs.ReplaceErrors.Enqueue(error);
            code = PointerReplace.Replace(fs, Target, Temp, 5);
            Check("replace_target_gone_after_" + error, code == 0 && fs.Files[Target] == "new", "code " + code);
        }

        // the finishing move gets its own retries, even when the replace spent most of its budget
        // (1 s: 50+100+200+400 ms of pauses before the fifth attempt removes the target)
        fs = Store();
        for (int i = 0; i < 4; i++)
        {
            fs.ReplaceErrors.Enqueue(Win32Error.SharingViolation);
        }
        fs.ReplaceErrors.Enqueue(Win32Error.UnableToMoveReplacement);
        for (int i = 0; i < 3; i++)
        {
            fs.MoveErrors.Enqueue(Win32Error.SharingViolation);
        }
        code = PointerReplace.Replace(new RemovesOnLast(fs), Target, Temp, 1);
        Check("replace_finish_move_retried", code == 0 && fs.Files[Target] == "new" && !fs.Exists(Temp) && fs.Slept > 1000, "code " + code + ", slept " + fs.Slept);

        // 1176 while the target is still there: both files are as they were; retried
        fs = Store();
        fs.ReplaceErrors.Enqueue(Win32Error.UnableToMoveReplacement);
        code = PointerReplace.Replace(fs, Target, Temp, 5);
        Check("replace_1176_target_there_retried", code == 0 && fs.Replaces == 2 && fs.Files[Target] == "new", "replaces " + fs.Replaces);

        // 1175 (target held without delete sharing) retried, then reported as a sharing violation
        fs = Store();
        for (int i = 0; i < 100; i++)
        {
            fs.ReplaceErrors.Enqueue(Win32Error.UnableToRemoveReplaced);
        }
        code = PointerReplace.Replace(fs, Target, Temp, 2);
        Check("replace_1175_is_sharing_violation", code == Win32Error.SharingViolation && fs.Files[Target] == "old" && fs.Exists(Temp), "code " + code);
        Check("replace_1175_retry_bounded", fs.Slept <= 2000 && fs.Slept >= 1000, "slept " + fs.Slept);

        // a read-only target is replaced and stays read-only
        fs = Store();
        fs.ReadOnly.Add(Target);
        code = PointerReplace.Replace(fs, Target, Temp, 5);
        Check("replace_read_only_kept", code == 0 && fs.Files[Target] == "new" && fs.ReadOnly.Contains(Target), "code " + code);

        // no target: the new file is renamed into place
        fs = Store();
        fs.Files.Remove(Target);
        code = PointerReplace.Replace(fs, Target, Temp, 5);
        Check("replace_without_target_moves", code == 0 && fs.Files[Target] == "new", "code " + code);

        // a final error with the target still there leaves both files as they were
        fs = Store();
        fs.ReplaceErrors.Enqueue(Win32Error.DiskFull);
        code = PointerReplace.Replace(fs, Target, Temp, 5);
        Check("replace_final_error_keeps_both", code == Win32Error.DiskFull && fs.Files[Target] == "old" && fs.Files[Temp] == "new", "code " + code);
    }

    // Like FakeFs, but the replace removes the target only on its last queued error.
    private sealed class RemovesOnLast : IReplaceFs
    {
        private readonly FakeFs fs;

        public RemovesOnLast(FakeFs fs)
        {
            this.fs = fs;
        }

        public bool Exists(string path)
        {
            return fs.Exists(path);
        }

        public bool IsReadOnly(string path)
        {
            return fs.IsReadOnly(path);
        }

        public int SetReadOnly(string path, bool readOnly)
        {
            return fs.SetReadOnly(path, readOnly);
        }

        public int ReplaceFile(string target, string replacement)
        {
            fs.RemoveTargetOnError = fs.ReplaceErrors.Count == 1;
            return fs.ReplaceFile(target, replacement);
        }

        public int MoveFile(string source, string target)
        {
            return fs.MoveFile(source, target);
        }

        public void Sleep(int milliseconds)
        {
            fs.Sleep(milliseconds);
        }
    }

    // finding 17: one budget for a whole tree removal, however many entries are denied
    private sealed class DeniedTree : ITreeFs
    {
        public int Slept;
        public int Deletes;

        public FsEntry Stat(string path)
        {
            FsEntry entry = new FsEntry();
            entry.Name = path;
            entry.Directory = true;
            return entry;
        }

        public IList<FsEntry> List(string path)
        {
            List<FsEntry> found = new List<FsEntry>();
            for (int i = 0; i < 2000; i++)
            {
                FsEntry entry = new FsEntry();
                entry.Name = "f" + i;
                found.Add(entry);
            }
            return found;
        }

        public int RemoveDirectory(string path)
        {
            return Win32Error.AccessDenied;
        }

        public int DeleteFile(string path, bool clearReadOnly)
        {
            Deletes++;
            return Win32Error.AccessDenied;
        }

        public void Sleep(int milliseconds)
        {
            Slept += milliseconds;
        }
    }

    private static void BudgetChecks()
    {
        DeniedTree tree = new DeniedTree();
        List<string> remaining = new List<string>();
        int code = Tree.Remove(tree, "C:\\t", 5, remaining);
        Check("tree_budget_shared", tree.Slept <= 5000, "slept " + tree.Slept + " ms for 2000 denied files");
        Check("tree_budget_every_entry_tried", tree.Deletes >= 2000 && remaining.Count == 2001 && code == Win32Error.AccessDenied, "deletes " + tree.Deletes + ", remaining " + remaining.Count);
        RetryBudget budget = new RetryBudget(1);
        Check("budget_take", budget.Take(600) && !budget.Take(600) && budget.Take(400) && budget.LeftMilliseconds == 0, "");
    }

    public static int Main()
    {
        ReplaceChecks();
        BudgetChecks();
        return failures == 0 ? 0 : 1;
    }
}
