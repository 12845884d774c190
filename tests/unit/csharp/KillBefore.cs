// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// A test double of the engine's console host for the crash tests (tests/unit/test_engine_crash.py):
// built from the engine's sources without SmsmseEngineCli.cs, it reads the console host's input plus
// "kill_before": N and runs the operation over the managed host as the console host does, with one
// difference: the deadline it hands the change kills this process when it is asked before step N (it
// is asked once before each step, before any of that step's calls reach the host), so the process
// dies as a run killed there would. The engine itself has no such switch.
// Build: mcs -langversion:5 -warnaserror -nologo -r:System.dll -r:System.Core.dll
//        -out:kill-before.exe <every plugins/module_utils/*.cs but SmsmseEngineCli.cs> tests/unit/csharp/KillBefore.cs

using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
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
            Dictionary<string, object> output = new Dictionary<string, object>();
            try
            {
                string text;
                using (StreamReader reader = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false, true)))
                {
                    text = reader.ReadToEnd();
                }
                IDictionary call = (IDictionary)Json.Parse(text);
                IDeadline deadline = new KillingDeadline(Req.NeedLong(call, "kill_before"));
                output["reply"] = Agent.Run(Req.NeedStr(call, "op"), Req.Need(call, "request"), false, Hosts.Managed("Mono"), deadline);
            }
            catch (Exception exception)
            {
                output.Clear();
                output["failed"] = true;
                output["msg"] = exception.GetType().Name + ": " + exception.Message;
            }
            byte[] data = new UTF8Encoding(false).GetBytes(Json.Write(output) + "\n");
            using (Stream stdout = Console.OpenStandardOutput())
            {
                stdout.Write(data, 0, data.Length);
            }
            return 0;
        }
    }
}
