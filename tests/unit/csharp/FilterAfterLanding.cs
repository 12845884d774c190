// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// A test double of the engine's console host for the shared case table (tests/unit/test_apply_cases.py):
// built from the engine's sources with this file's Main, it reads the console host's input plus
// "filter": {"removes": NAME} and runs the operation over the managed host through the console host's
// Serve, with one difference: an antivirus filter on the host removes (quarantines) every file named NAME
// that the engine writes into a staging folder, right after the engine closes it. The engine itself has no
// such switch.
// Build: mcs -langversion:5 -warnaserror -nologo -r:System.dll -r:System.Core.dll
//        -main:FilterDouble.Program -out:filter-after-landing.exe plugins/module_utils/*.cs tests/unit/csharp/FilterAfterLanding.cs

using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineHost;

namespace FilterDouble
{
    // A written file that the filter removes once its writer closes it.
    public sealed class RemovedOnClose : Stream
    {
        private readonly Stream inner;
        private readonly string path;
        private bool closed;

        public RemovedOnClose(Stream inner, string path)
        {
            this.inner = inner;
            this.path = path;
        }

        public override bool CanRead { get { return inner.CanRead; } }
        public override bool CanSeek { get { return inner.CanSeek; } }
        public override bool CanWrite { get { return inner.CanWrite; } }
        public override long Length { get { return inner.Length; } }

        public override long Position
        {
            get { return inner.Position; }
            set { inner.Position = value; }
        }

        public override void Flush()
        {
            inner.Flush();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            return inner.Read(buffer, offset, count);
        }

        public override long Seek(long offset, SeekOrigin origin)
        {
            return inner.Seek(offset, origin);
        }

        public override void SetLength(long value)
        {
            inner.SetLength(value);
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !closed)
            {
                closed = true;
                inner.Dispose();
                File.Delete(path);
            }
            base.Dispose(disposing);
        }
    }

    // The managed file system with the filter in front of CreateNew; everything else as it is.
    public sealed class FilteredFiles : IFileSystem
    {
        private readonly IFileSystem inner;
        private readonly string removes;
        private readonly string stagingPrefix;

        public FilteredFiles(IFileSystem inner, string removes, string stagingPrefix)
        {
            this.inner = inner;
            this.removes = removes;
            this.stagingPrefix = stagingPrefix;
        }

        public Stream CreateNew(string path)
        {
            Stream created = inner.CreateNew(path);
            string folder = Path.GetFileName(Path.GetDirectoryName(path)) ?? "";
            if (Path.GetFileName(path) == removes && folder.StartsWith(stagingPrefix, StringComparison.Ordinal))
            {
                return new RemovedOnClose(created, path);
            }
            return created;
        }

        public Entry Stat(string path) { return inner.Stat(path); }
        public Entry StatFollow(string path) { return inner.StatFollow(path); }
        public IList<Entry> List(string folder) { return inner.List(folder); }
        public Stream OpenRead(string path) { return inner.OpenRead(path); }
        public void ProbeWritable(string path) { inner.ProbeWritable(path); }
        public void CreateFolder(string path) { inner.CreateFolder(path); }
        public void Move(string from, string to) { inner.Move(from, to); }
        public void Replace(string replacement, string target) { inner.Replace(replacement, target); }
        public void Delete(string path) { inner.Delete(path); }
        public void DeleteFolder(string path) { inner.DeleteFolder(path); }
        public void MakeWritable(string path) { inner.MakeWritable(path); }
        public void CopyTimes(string source, string target) { inner.CopyTimes(source, target); }
        public long? FreeBytes(string path) { return inner.FreeBytes(path); }
        public string RealPath(string path) { return inner.RealPath(path); }
        public void Flush(string folder) { inner.Flush(folder); }
        public string PrivateFolder(string path, bool create) { return inner.PrivateFolder(path, create); }
        public string PrivateFile(string path) { return inner.PrivateFile(path); }
        public void WritePrivate(string path, byte[] data) { inner.WritePrivate(path, data); }
        public bool WriterPresent(string path) { return inner.WriterPresent(path); }
        public string LongName(string path) { return inner.LongName(path); }
    }

    // The managed host, its files behind the filter.
    public sealed class FilteredHost : IHost
    {
        private readonly IHost inner;
        private readonly IFileSystem files;

        public FilteredHost(IHost inner, string removes, string stagingPrefix)
        {
            this.inner = inner;
            files = new FilteredFiles(inner.Files, removes, stagingPrefix);
        }

        public HostInfo Info { get { return inner.Info; } }
        public string Runtime { get { return inner.Runtime; } }
        public IFileSystem Files { get { return files; } }
        public IProcesses Processes { get { return inner.Processes; } }
        public IClock Clock { get { return inner.Clock; } }
        public IProduct Product { get { return inner.Product; } }
        public IServices Services { get { return inner.Services; } }
        public IDownloads Downloads { get { return inner.Downloads; } }
        public string Env(string name) { return inner.Env(name); }
        public Dictionary<string, object> Privacy(string path, IDictionary policy) { return inner.Privacy(path, policy); }
    }

    public static class Program
    {
        public static int Main(string[] args)
        {
            return ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineCli.Program.Serve(delegate(IDictionary call)
            {
                IDictionary request = Req.Need(call, "request");
                string prefix = Req.NeedStr(Req.Need(request, "wire"), "staging_prefix");
                string removes = Req.NeedStr(Req.Need(call, "filter"), "removes");
                IHost host = new FilteredHost(Hosts.Managed("Mono"), removes, prefix);
                return ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineCli.Program.Run(call, host);
            }, "Mono");
        }
    }
}
