// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine
//
// What a store's definfo.dat names, read on the host when a step needs it, and the read of every
// store a change touched at the end of an apply (read_back). The POSIX agent's rules
// (plugins/module_utils/pointer_names.py, read_back.py): the pointer is read in its own encoding
// (UTF-16 with a byte order mark, UTF-8, else Latin-1), only as a regular file of at most the
// wire's max_definfo_bytes, never through a link; the controller builds the host's record from
// the read, never from what it planned.

using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.RegularExpressions;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine;
using ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy;

namespace ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineReadBack
{
    // The [DefDates] values of a store's definfo.dat.
    public static class Pointer
    {
        public const string CurDefs = "curdefs";
        private const string Section = "defdates";
        // the line ends of Python's str.splitlines, so that both agents see the same lines
        private static readonly char[] LineEnds = { '\n', '\r', '\v', '\f', '\x1c', '\x1d', '\x1e', '\x85', '\u2028', '\u2029' };

        public static string Decode(byte[] data)
        {
            if (data.Length >= 2 && data[0] == 0xFF && data[1] == 0xFE)
            {
                return new UnicodeEncoding(false, false, false).GetString(data, 2, data.Length - 2);
            }
            if (data.Length >= 2 && data[0] == 0xFE && data[1] == 0xFF)
            {
                return new UnicodeEncoding(true, false, false).GetString(data, 2, data.Length - 2);
            }
            if (data.Length >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
            {
                return new UTF8Encoding(false, false).GetString(data, 3, data.Length - 3);
            }
            try
            {
                return new UTF8Encoding(false, true).GetString(data);
            }
            catch (ArgumentException)
            {
                return Encoding.GetEncoding(28591).GetString(data);
            }
        }

        // The [DefDates] keys (lower case) and their values; the first of a repeated key wins.
        public static Dictionary<string, string> DefDates(byte[] data)
        {
            Dictionary<string, string> found = new Dictionary<string, string>(StringComparer.Ordinal);
            string section = null;
            foreach (string raw in Decode(data).Split(LineEnds))
            {
                string line = raw.Trim();
                if (line.Length >= 1 && line[0] == '[' && line[line.Length - 1] == ']')
                {
                    section = line.Length < 2 ? "" : line.Substring(1, line.Length - 2).Trim().ToLowerInvariant();
                }
                else if (section == Section && line.IndexOf('=') >= 0)
                {
                    int eq = line.IndexOf('=');
                    string key = line.Substring(0, eq).Trim().ToLowerInvariant();
                    if (!found.ContainsKey(key))
                    {
                        found[key] = line.Substring(eq + 1).Trim();
                    }
                }
            }
            return found;
        }

        // The [DefDates] values of <store>/<definfo> (null when absent), or in `why` the reason it cannot be read: a link,
        // a folder or a special file is never opened, a file larger than `limit` names nothing the agent can trust.
        public static Dictionary<string, string> Read(IHost host, string store, string definfo, long limit, out string why)
        {
            why = null;
            string path = Paths.Join(store, definfo);
            Entry entry;
            byte[] data;
            try
            {
                entry = host.Files.Stat(path);
                if (entry == null)
                {
                    return null;
                }
                if (entry.Kind != "file")
                {
                    why = path + " is " + Described(entry.Kind) + ", not a regular file: it is never opened";
                    return null;
                }
                using (Stream stream = host.Files.OpenRead(path))
                {
                    data = Probe.ReadUpTo(stream, limit + 1);
                }
            }
            catch (IOException exception)
            {
                // gone since the stat: absent; any other error (a sharing violation, a device error): it may name the set
                if (Codes.Of(exception) == Codes.FileNotFound)
                {
                    return null;
                }
                why = path + " cannot be read: " + exception.Message;
                return null;
            }
            catch (UnauthorizedAccessException exception)
            {
                why = path + " cannot be read: " + exception.Message;
                return null;
            }
            if (data.Length > limit)
            {
                why = path + " is larger than " + limit + " bytes";
                return null;
            }
            return DefDates(data);
        }

        private static string Described(string kind)
        {
            return kind == "link" ? "a link (never followed)" : kind == "dir" ? "a folder" : "a special file (a FIFO, a device or a socket)";
        }
    }

    // The read of the stores an apply touched, after its last step (schemas/agent/apply.reply.json, read_store).
    public static class ReadBack
    {
        // stores one read covers (the contract's bound)
        public const int MaxStores = 16;
        private static readonly Regex Version = new Regex("^[0-9]{8}\\.[0-9]{3}\\z", RegexOptions.CultureInvariant);

        public static List<object> Read(IList<object> stores, IDictionary wire, string cacheDir, IHost host)
        {
            List<object> records = new List<object>();
            for (int i = 0; i < stores.Count && i < MaxStores; i++)
            {
                records.Add(Store(Convert.ToString(stores[i], System.Globalization.CultureInfo.InvariantCulture), wire, cacheDir, host));
            }
            return records;
        }

        // One store as the change left it.
        public static Dictionary<string, object> Store(string store, IDictionary wire, string cacheDir, IHost host)
        {
            IDictionary limits = Req.Need(wire, "limits");
            Dictionary<string, object> record = new Dictionary<string, object>();
            record["store"] = store;
            record["definfo"] = null;
            record["sets"] = new List<object>();
            record["active"] = null;
            record["error"] = null;
            Dictionary<string, object> definfo;
            try
            {
                definfo = Probe.Definfo(Paths.Join(store, Req.NeedStr(wire, "definfo")), Req.NeedLong(limits, "max_definfo_bytes"), host);
                record["definfo"] = definfo;
                record["sets"] = Sets(store, host);
            }
            catch (IOException exception)
            {
                record["error"] = Probe.Error(exception);
                return record;
            }
            catch (UnauthorizedAccessException exception)
            {
                record["error"] = Probe.Error(exception);
                return record;
            }
            string content = definfo["content_b64"] as string;
            string current = null;
            if (content != null)
            {
                Pointer.DefDates(Convert.FromBase64String(content)).TryGetValue(Pointer.CurDefs, out current);
            }
            if (current != null)
            {
                HashCache cache = new HashCache(host, cacheDir, store, true, HashCache.DefaultMaxAge);
                record["active"] = Active(store, current, cache, Req.NeedLong(limits, "max_manifest_files"), host);
            }
            return record;
        }

        private static List<object> Sets(string store, IHost host)
        {
            List<Entry> entries = new List<Entry>(host.Files.List(store));
            entries.Sort(delegate(Entry a, Entry b) { return Paths.Compare(a.Name, b.Name); });
            List<object> found = new List<object>();
            foreach (Entry entry in entries)
            {
                if (found.Count >= Probe.MaxEntries)
                {
                    break;
                }
                if (Version.IsMatch(entry.Name))
                {
                    Dictionary<string, object> set = new Dictionary<string, object>();
                    set["name"] = entry.Name;
                    set["link"] = entry.Kind == "link";
                    found.Add(set);
                }
            }
            return found;
        }

        // The set the pointer names: what is at that name and, for a real folder, every file with its SHA-256.
        private static Dictionary<string, object> Active(string store, string name, HashCache cache, long limit, IHost host)
        {
            WireName shown = Wire.Escape(name, Probe.MaxName);
            Dictionary<string, object> record = new Dictionary<string, object>();
            record["name"] = shown.Text;
            record["kind"] = "missing";
            record["files"] = new List<object>();
            record["truncated"] = false;
            record["error"] = null;
            bool windows = host.Info.Os == "windows";
            if (shown.Escaped || name.Length == 0 || name == "." || name == ".." || name.IndexOf('/') >= 0 || name.IndexOf('\0') >= 0 || (windows && name.IndexOfAny(new char[] { '\\', ':' }) >= 0))
            {
                record["kind"] = "invalid";
                return record;
            }
            string path = Paths.Join(store, name);
            Entry entry;
            try
            {
                entry = host.Files.Stat(path);
            }
            catch (IOException exception)
            {
                record["kind"] = "other";
                record["error"] = Probe.Error(exception);
                return record;
            }
            if (entry == null)
            {
                return record;
            }
            record["kind"] = entry.Kind == "link" ? "link" : entry.Kind == "dir" ? "dir" : "other";
            if (entry.Kind != "dir")
            {
                return record;
            }
            try
            {
                bool truncated;
                record["files"] = Probe.ListFiles(path, limit, cache, host, out truncated);
                record["truncated"] = truncated;
            }
            catch (IOException exception)
            {
                record["error"] = Probe.Error(exception);
            }
            return record;
        }
    }
}
