// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineHost
//
// The engine's console host under mono, for the lab and the tests: reads ONE JSON object from
// stdin, {"op": "...", "check_mode": false, "request": {...}, "deadline_seconds": 3600 (optional)}, runs the engine over the managed
// host and writes ONE JSON object to stdout: {"reply": {...}, "runtime": "Mono 6.8.0.105"}, or
// {"failed": true, "msg": "..."} when the engine throws. Exit code 0 in both cases.
// Build: mcs -langversion:5 -warnaserror -nologo -r:System.dll -r:System.Core.dll
//        -out:smsmse-engine.exe plugins/module_utils/*.cs

using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Text;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineHost;

namespace ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineCli
{
    public static class Program
    {
        // "Mono 6.8.0.105" under mono, ".NET <version>" elsewhere.
        public static string Runtime()
        {
            Type mono = Type.GetType("Mono.Runtime");
            if (mono != null)
            {
                MethodInfo name = mono.GetMethod("GetDisplayName", BindingFlags.NonPublic | BindingFlags.Static);
                if (name != null)
                {
                    string shown = Convert.ToString(name.Invoke(null, null));
                    int space = shown.IndexOf(' ');
                    return "Mono " + (space > 0 ? shown.Substring(0, space) : shown);
                }
                return "Mono";
            }
            return ".NET " + Environment.Version;
        }

        public static int Main(string[] args)
        {
            Dictionary<string, object> output = new Dictionary<string, object>();
            string runtime = Runtime();
            try
            {
                string text;
                using (StreamReader reader = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false, true)))
                {
                    text = reader.ReadToEnd();
                }
                IDictionary call = Json.Parse(text) as IDictionary;
                if (call == null)
                {
                    throw new ArgumentException("the input is not a JSON object");
                }
                string op = Req.NeedStr(call, "op");
                bool checkMode = Req.Bool(call, "check_mode", false);
                IDictionary request = Req.Need(call, "request");
                long deadline = Req.Long(call, "deadline_seconds", Agent.DefaultDeadlineSeconds);
                output["reply"] = Agent.Run(op, request, checkMode, Hosts.Managed(runtime), (int)Math.Min(Math.Max(deadline, 1), int.MaxValue));
                output["runtime"] = runtime;
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
