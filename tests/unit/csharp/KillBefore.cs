// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// A test double of the engine's console host for the crash tests (tests/unit/test_engine_crash.py):
// built from the engine's sources with this file's Main, it reads the console host's input plus
// "kill_before": N and runs the operation over the managed host through the console host's Serve, with one
// difference: the deadline it hands the change kills this process when it is asked before step N (it
// is asked once before each step, before any of that step's calls reach the host), so the process
// dies as a run killed there would. The engine itself has no such switch.
// Build: mcs -langversion:5 -warnaserror -nologo -r:System.dll -r:System.Core.dll
//        -main:KillBeforeDouble.Program -out:kill-before.exe plugins/module_utils/*.cs tests/unit/csharp/KillBefore.cs

using System;
using System.Collections;
using System.Diagnostics;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineHost;

namespace KillBeforeDouble
{
    // Never passes; kills the process the time it is asked before step `index` (from 0).
    public sealed class KillingDeadline : IDeadline
    {
        private readonly long index;
        private long asked;

        public KillingDeadline(long index)
        {
            this.index = index;
        }

        public bool Passed
        {
            get
            {
                if (asked++ == index)
                {
                    Process.GetCurrentProcess().Kill();
                }
                return false;
            }
        }

        public string Why
        {
            get { return "never"; }
        }
    }

    public static class Program
    {
        public static int Main(string[] args)
        {
            return ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineCli.Program.Serve(delegate(IDictionary call)
            {
                IDeadline deadline = new KillingDeadline(Req.NeedLong(call, "kill_before"));
                return Agent.Run(Req.NeedStr(call, "op"), Req.Need(call, "request"), false, Hosts.Managed("Mono"), deadline);
            }, "Mono");
        }
    }
}
