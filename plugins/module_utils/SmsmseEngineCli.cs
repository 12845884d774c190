// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineHost
//
// The engine's console host under mono, for the lab and the tests: reads ONE JSON object from
// stdin, {"op": "...", "check_mode": false, "request": {...}, "deadline_seconds": 3600 (optional)}, runs the engine over the managed
// host and writes ONE JSON object to stdout: {"reply": {...}, "runtime": "Mono 6.8.0.105"}, or
// {"failed": true, "msg": "..."} when the engine throws. Exit code 0 in both cases; 74, with a line on stderr,
// when the reply could not be written, so that a reply never goes missing without a word.
// Build: mcs -langversion:5 -warnaserror -nologo -r:System.dll -r:System.Core.dll
//        -out:smsmse-engine.exe plugins/module_utils/*.cs

using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
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

        // the exit code of a console host that could not write its reply (EX_IOERR), with a line on stderr saying why
        public const int ExitReplyNotWritten = 74;

        public static int Main(string[] args)
        {
            string runtime = Runtime();
            return Serve(delegate(IDictionary call) { return Run(call, Hosts.Managed(runtime)); }, runtime);
        }

        // The call's operation on `host`, under the call's deadline_seconds (the default when it has none).
        public static Dictionary<string, object> Run(IDictionary call, IHost host)
        {
            long deadline = Req.Long(call, "deadline_seconds", Agent.DefaultDeadlineSeconds);
            return Agent.Run(Req.NeedStr(call, "op"), Req.Need(call, "request"), Req.Bool(call, "check_mode", false), host, (int)Math.Min(Math.Max(deadline, 1), int.MaxValue));
        }

        // Reads ONE JSON object from stdin, hands it to `operation` and writes ONE JSON object to stdout:
        // {"reply": <what it returned>, "runtime": `runtime`}, or {"failed": true, "msg": "..."} when it throws.
        // The exit code is 0 once that is written (ExitReplyNotWritten when it could not be).
        public static int Serve(Func<IDictionary, Dictionary<string, object>> operation, string runtime)
        {
            Dictionary<string, object> output = new Dictionary<string, object>();
            string stdoutAtStart = Libc.Usable ? Libc.Identity(1) : null;
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
                output["reply"] = operation(call);
                output["runtime"] = runtime;
            }
            catch (Exception exception)
            {
                output.Clear();
                output["failed"] = true;
                output["msg"] = exception.GetType().Name + ": " + exception.Message;
            }
            byte[] data = new UTF8Encoding(false).GetBytes(Json.Write(output) + "\n");
            string why = Libc.Usable ? WriteOnUnix(data, stdoutAtStart) : WriteThroughConsole(data);
            if (why == null)
            {
                return 0;
            }
            Console.Error.WriteLine("smsmse-engine: the reply was not written: " + why + "; the operation ran and " + (output.ContainsKey("failed") ? "failed" : "replied"));
            return ExitReplyNotWritten;
        }

        // The reply written straight to descriptor 1, once it is known to be what it was when the host started:
        // null, or why not. Mono's Console.OpenStandardOutput answers Stream.Null, silently, when opening the handle
        // throws an IOException, and a console host trusting it exits 0 having written nothing (seen under load).
        private static string WriteOnUnix(byte[] data, string stdoutAtStart)
        {
            string now = Libc.Identity(1);
            if (now == null || now != stdoutAtStart)
            {
                return "standard output is no longer what it was at the start (" + (stdoutAtStart ?? "closed") + ", now " + (now ?? "closed") + ")";
            }
            int errno = Libc.WriteAll(1, data);
            return errno == 0 ? null : "writing standard output failed (errno " + errno.ToString(CultureInfo.InvariantCulture) + ")";
        }

        private static string WriteThroughConsole(byte[] data)
        {
            try
            {
                using (Stream stdout = Console.OpenStandardOutput())
                {
                    if (stdout == Stream.Null)
                    {
                        return "standard output could not be opened";
                    }
                    stdout.Write(data, 0, data.Length);
                    stdout.Flush();
                }
                return null;
            }
            catch (IOException exception)
            {
                return "writing standard output failed (" + exception.Message + ")";
            }
            catch (UnauthorizedAccessException exception)
            {
                return "writing standard output failed (" + exception.Message + ")";
            }
        }
    }
}
