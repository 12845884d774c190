// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy
//AnsibleRequires -CSharpUtil ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine
//
// The apply operation's fetch step on the Windows agent: one set from a distribution point into a
// staging folder of a store, by the rules of the POSIX agent's plugins/module_utils/fetch.py (both
// pass the fetch cases of tests/contract/apply_cases.yml). The source is the set's folder there: an
// https:// or http:// URL, or a full path of a folder (a UNC path \\server\share\...). Every file of
// the manifest (the trusted catalog's entry; the marker last) is streamed into the staging folder
// while it is hashed, never more than its catalogued size + 1 bytes read; the first file whose size
// or SHA-256 differs refuses the set (SOURCE_*), naming the source. The caller created the staging
// folder and removes it on any failure.
//
// HTTP: .NET's HttpWebRequest (connections kept alive across files), TLS 1.2 or later offered
// (Windows PowerShell 5.1 on .NET 4.5 offers SSL 3 and TLS 1.0 unless told), the system proxy or
// the request's, redirects followed only within the URL's own scheme, host and port.
// timeout_seconds bounds each wait for the server, deadline_seconds the whole set: when it passes
// the connection is aborted. A share is read with the identity the agent runs as.

using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Runtime.ExceptionServices;
using System.Threading;
using System.Threading.Tasks;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine;
using ansible_collections.mailsec.smsmse.plugins.module_utils.StorePolicy;

namespace ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineFetch
{
    // The source cannot give a file as the catalog lists it.
    public sealed class SourceError : Exception
    {
        public readonly string Code;

        public SourceError(string code, string message)
            : base(message)
        {
            Code = code;
        }
    }

    public static class Fetcher
    {
        public const int MaxRedirects = 5;
        private const int BufferSize = 1 << 20;
        // Win32 errors of a share that refused the account the agent runs as (access denied, logon
        // failure, not authenticated, guest access blocked): the second hop, named with its fix
        private static readonly int[] CredentialErrors = { 5, 1326, 1244, 1272, 1331, 1907 };

        public const string SecondHop = "the account the agent runs as cannot read it: over WinRM or PSRP the connection's own "
            + "credentials do not reach a share (the second hop); run the task with become (become_user: SYSTEM, so that the host "
            + "reads the share as its computer account DOMAIN\\HOST$, and grant that account read on the share and its folders), "
            + "or allow delegation (CredSSP, Kerberos delegation); see docs/windows.md";

        // Fill `target` (a staging folder the caller created) with the set at args.source.
        public static Dictionary<string, object> Run(IHost host, IDictionary wire, string store, string target, IDictionary args)
        {
            string source = Req.NeedStr(args, "source");
            IDictionary manifest = Req.Need(args, "manifest");
            string marker = Req.NeedStr(wire, "marker");
            bool url = IsUrl(source);
            string shown = url ? Safe(source) : source;
            DownloadOptions options = new DownloadOptions();
            options.TimeoutSeconds = (int)Math.Min(Req.NeedLong(args, "timeout_seconds"), 86400);
            options.ValidateCerts = Req.Bool(args, "validate_certs", true);
            options.Proxy = Req.Str(args, "proxy");
            if (options.Proxy != null)
            {
                WebDownloads.ProxyUri(options.Proxy);  // a malformed proxy URL fails the step (BAD_REQUEST) before anything is fetched
            }
            string caPath = Req.Str(args, "ca_path");
            long deadlineSeconds = Math.Min(Req.NeedLong(args, "deadline_seconds"), 86400);
            Deadline deadline = new Deadline(host.Clock, deadlineSeconds, shown);
            List<string> names = new List<string>();
            foreach (object key in manifest.Keys)
            {
                names.Add((string)key);
            }
            names.Sort(delegate(string a, string b) { return MarkerLast(a, b, marker); });
            long fetched = 0;
            try
            {
                if (url && caPath != null)
                {
                    options.CaPem = CaBundle(host, caPath);
                }
                if (!url)
                {
                    CheckFolder(host, deadline, source);
                }
                IDownloads web = host.Downloads ?? new WebDownloads();
                foreach (string rel in names)
                {
                    IDictionary want = (IDictionary)manifest[rel];
                    long size = Req.NeedLong(want, "size");
                    string dst = Paths.JoinRelative(target, rel);
                    MakeParents(host.Files, target, rel.Split('/'));
                    long got;
                    string where;
                    string digest = url ? FromWeb(host, web, options, deadline, source, rel, size + 1, dst, out got, out where)
                        : FromFolder(host, deadline, source, rel, size + 1, dst, out got, out where);
                    string wrong = Mismatch(where, rel, got, digest, size, Req.NeedStr(want, "sha256"));
                    if (wrong != null)
                    {
                        throw new SourceError("SOURCE_MISMATCH", wrong + "; the set was refused");
                    }
                    fetched += got;
                }
            }
            catch (SourceError error)
            {
                SourceError shownError = deadline.Passed ? deadline.Error() : error;
                throw new Refusal("refused", shown + ": " + shownError.Message + "; nothing of the set was kept", shownError.Code, null);
            }
            host.Files.Flush(target);
            host.Files.Flush(store);
            ReadBack(host, target, manifest, names);
            Dictionary<string, object> data = new Dictionary<string, object>();
            data["bytes_fetched"] = fetched;
            data["files_fetched"] = (long)manifest.Count;
            return data;
        }

        public static bool IsUrl(string source)
        {
            return source.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || source.StartsWith("http://", StringComparison.OrdinalIgnoreCase);
        }

        // A URL without user name or password, for messages.
        public static string Safe(string url)
        {
            Uri parsed;
            if (!Uri.TryCreate(url, UriKind.Absolute, out parsed) || parsed.UserInfo.Length == 0)
            {
                return Text.Head(url, 1024);
            }
            return Text.Head(parsed.GetComponents(UriComponents.AbsoluteUri & ~UriComponents.UserInfo, UriFormat.UriEscaped), 1024);
        }

        public static string FileUrl(string source, string rel)
        {
            StringBuilder url = new StringBuilder(source.TrimEnd('/'));
            foreach (string part in rel.Split('/'))
            {
                url.Append('/').Append(Uri.EscapeDataString(part));
            }
            return url.ToString();
        }

        // scheme://host:port, lowercase: the only origin a redirect may lead to.
        public static string Origin(string url)
        {
            Uri parsed;
            if (!Uri.TryCreate(url, UriKind.Absolute, out parsed) || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host.Length == 0)
            {
                throw new SourceError("SOURCE_UNREACHABLE", Safe(url) + " is not an http:// or https:// URL with a host");
            }
            return parsed.Scheme + "://" + parsed.Host.ToLowerInvariant() + ":" + parsed.Port.ToString(CultureInfo.InvariantCulture);
        }

        private static string Mismatch(string where, string rel, long size, string digest, long want, string wantDigest)
        {
            if (size > want)
            {
                return rel + " from " + where + " is larger than the catalog lists (" + want.ToString(CultureInfo.InvariantCulture) + " bytes)";
            }
            if (size < want)
            {
                return rel + " from " + where + " is " + size.ToString(CultureInfo.InvariantCulture) + " bytes, the catalog lists " + want.ToString(CultureInfo.InvariantCulture) + ": it is truncated";
            }
            if (digest != wantDigest)
            {
                return rel + " from " + where + " does not have the SHA-256 the catalog lists";
            }
            return null;
        }

        // --- a folder or share ---

        private static void CheckFolder(IHost host, Deadline deadline, string source)
        {
            if (!Paths.IsFull(source))
            {
                throw new SourceError("SOURCE_UNREACHABLE", source + " is neither an http(s):// URL nor a full path of a folder or share (\\\\server\\share\\...)");
            }
            Entry top;
            try
            {
                top = deadline.Run(delegate { return host.Files.StatFollow(source); });
            }
            catch (SourceError)
            {
                throw;
            }
            catch (Exception exception)
            {
                throw FolderError(source, exception, "the folder " + source + " cannot be reached");
            }
            if (top == null)
            {
                throw new SourceError("SOURCE_NOT_FOUND", "the folder " + source + " does not exist (is the share reachable, the distribution point mounted?)");
            }
            if (top.Kind != "dir")
            {
                throw new SourceError("SOURCE_NOT_FOUND", source + " is not a folder");
            }
        }

        private static string FromFolder(IHost host, Deadline deadline, string source, string rel, long limit, string dst, out long size, out string where)
        {
            string path = Paths.JoinRelative(source, rel);
            where = path;
            Entry entry;
            try
            {
                entry = deadline.Run(delegate { return host.Files.Stat(path); });
            }
            catch (SourceError)
            {
                throw;
            }
            catch (Exception exception)
            {
                throw FolderError(path, exception, path + " cannot be read");
            }
            if (entry == null)
            {
                throw new SourceError("SOURCE_NOT_FOUND", path + " does not exist");
            }
            if (entry.Kind != "file")
            {
                throw new SourceError("SOURCE_NOT_FOUND", path + " is not a regular file");
            }
            Stream reader;
            try
            {
                reader = deadline.Run(delegate { return host.Files.OpenRead(path); });
            }
            catch (SourceError)
            {
                throw;
            }
            catch (Exception exception)
            {
                throw FolderError(path, exception, path + " cannot be opened");
            }
            using (Stream bounded = new DeadlineReads(reader, deadline))
            {
                return Receive(host, deadline, bounded, limit, -1, dst, path, out size);
            }
        }

        private static SourceError FolderError(string path, Exception exception, string what)
        {
            int code = Codes.Of(exception);
            if (code == Codes.FileNotFound || code == Codes.PathNotFound)
            {
                return new SourceError("SOURCE_NOT_FOUND", path + " does not exist");
            }
            string why = (code != 0 ? Win32Error.Name(code) + ": " : "") + Win32Error.InnerMessage(exception);
            if (Array.IndexOf(CredentialErrors, code) >= 0)
            {
                return new SourceError("SOURCE_UNREACHABLE", what + " (" + why + "): " + SecondHop);
            }
            return new SourceError("SOURCE_UNREACHABLE", what + ": " + why);
        }

        // --- HTTP ---

        private static string FromWeb(IHost host, IDownloads web, DownloadOptions options, Deadline deadline, string source, string rel, long limit, string dst, out long size, out string where)
        {
            string url = FileUrl(source, rel);
            using (Download answer = Response(web, options, deadline, url, out where))
            {
                bool whole = false;
                try
                {
                    if (answer.Length >= limit)
                    {
                        throw new SourceError("SOURCE_MISMATCH", where + " is " + answer.Length.ToString(CultureInfo.InvariantCulture) + " bytes, larger than the catalog lists (" + (limit - 1).ToString(CultureInfo.InvariantCulture) + ")");
                    }
                    using (Timer cutter = deadline.Cutter(answer.Abort))
                    {
                        string digest = Receive(host, deadline, answer.Body, limit, answer.Length, dst, where, out size);
                        whole = size < limit;  // Receive stopped at the body's end, not at the catalog's size + 1
                        return digest;
                    }
                }
                finally
                {
                    if (!whole)
                    {
                        Unread(answer);
                    }
                }
            }
        }

        // A response whose body is left unread: its connection is aborted, never reused. .NET Framework drains
        // the rest of a body when its stream is closed (a chunked one to its end, each read waiting up to
        // timeout_seconds), so a server that keeps sending would hold the step past deadline_seconds.
        private static void Unread(Download answer)
        {
            if (answer.Abort != null)
            {
                answer.Abort();
            }
        }

        // The 200 response for `url`, following redirects within its origin only; `where` is the URL it came from.
        private static Download Response(IDownloads web, DownloadOptions options, Deadline deadline, string url, out string where)
        {
            string first = Origin(url);
            for (int hop = 0; hop <= MaxRedirects; hop++)
            {
                deadline.Check();
                Download answer = Get(web, options, url);
                int status = answer.Status;
                if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308)
                {
                    string location = answer.Location ?? "";
                    Unread(answer);
                    answer.Dispose();
                    Uri next;
                    string target = Uri.TryCreate(new Uri(url), location, out next) ? next.AbsoluteUri : location;
                    if (!IsUrl(target) || Origin(target) != first)
                    {
                        throw new SourceError("SOURCE_REDIRECT", Safe(url) + " redirects to " + Safe(target) + ", another host or scheme: a distribution point is read from its own origin only; give the URL the set is served from");
                    }
                    url = target;
                    continue;
                }
                if (status == 407)
                {
                    Unread(answer);
                    answer.Dispose();
                    throw new SourceError("SOURCE_UNREACHABLE", Safe(url) + ": " + ProxyAuthentication(options.Proxy, answer.Reason));
                }
                if (status != 200)
                {
                    Unread(answer);
                    answer.Dispose();
                    string code = status == 404 || status == 410 ? "SOURCE_NOT_FOUND" : "SOURCE_UNREACHABLE";
                    throw new SourceError(code, Safe(url) + " answered " + status.ToString(CultureInfo.InvariantCulture) + " " + (answer.Reason ?? ""));
                }
                where = Safe(url);
                return answer;
            }
            throw new SourceError("SOURCE_REDIRECT", Safe(url) + " redirects more than " + MaxRedirects.ToString(CultureInfo.InvariantCulture) + " times");
        }

        // What a 407 means and its fix: the system proxy is never given credentials, so the fix is to name it; a proxy
        // already named was answered with the agent's identity and refused it.
        private static string ProxyAuthentication(string named, string reason)
        {
            string hop = "Over WinRM or PSRP the agent's identity reaches no second host (a network logon): run the task with become "
                + "(SYSTEM, the computer's account), CredSSP or Kerberos delegation";
            string asked = "(407 " + (reason ?? "") + ")";
            if (named == null)
            {
                return "the system proxy asks for credentials " + asked + ": name it in the proxy option (defs_import: proxy; role: "
                    + "defs_health_source_proxy), which is answered with the identity the agent runs as; the system proxy is never "
                    + "given credentials. " + hop;
            }
            return "the proxy " + Text.Head(Safe(named), 256) + " refused the identity the agent runs as " + asked + ": it is answered "
                + "with Kerberos or NTLM only, never a password, so a proxy that takes only Basic cannot be used; allow the agent's "
                + "account (the computer's account DOMAIN\\HOST$ under SYSTEM) on the proxy. " + hop;
        }

        private static Download Get(IDownloads web, DownloadOptions options, string url)
        {
            try
            {
                return web.Get(url, options);
            }
            catch (Exception exception)
            {
                SourceError error = NetworkError(exception);
                if (error == null)
                {
                    throw;
                }
                throw error;
            }
        }

        // What a network failure means for the set, or null for one that is not the network's.
        public static SourceError NetworkError(Exception exception)
        {
            for (Exception inner = exception; inner != null; inner = inner.InnerException)
            {
                WebException web = inner as WebException;
                if (web == null)
                {
                    continue;
                }
                switch (web.Status)
                {
                    case WebExceptionStatus.Timeout:
                        return new SourceError("SOURCE_TIMEOUT", "the server sent nothing for timeout_seconds");
                    case WebExceptionStatus.TrustFailure:
                        return new SourceError("SOURCE_TLS", "the TLS certificate was not accepted (" + web.Message + "): give the CA that signed its certificate (ca_path) or, for a test only, validate_certs: false");
                    case WebExceptionStatus.SecureChannelFailure:
                        return new SourceError("SOURCE_TLS", "the TLS handshake failed (" + web.Message + "): the server must offer TLS 1.2 or later");
                    default:
                        return new SourceError("SOURCE_UNREACHABLE", "cannot be reached (" + web.Status + ": " + web.Message + ")");
                }
            }
            if (exception is IOException && !(exception is HostException))
            {
                return new SourceError("SOURCE_UNREACHABLE", "the connection broke (" + exception.Message + ")");
            }
            return null;
        }

        // --- writing ---

        // Stream at most `limit` bytes of `body` into the new file `target`, hashing while writing; (digest, size).
        // `declared`: the Content-Length of an HTTP body, else -1.
        private static string Receive(IHost host, Deadline deadline, Stream body, long limit, long declared, string target, string where, out long size)
        {
            byte[] buffer = new byte[BufferSize];
            size = 0;
            using (Stream writer = host.Files.CreateNew(target))
            using (SHA256 sha = Sha.New())
            {
                while (size < limit)
                {
                    deadline.Check();
                    int read;
                    try
                    {
                        read = body.Read(buffer, 0, (int)Math.Min(buffer.Length, limit - size));
                    }
                    catch (Exception exception)
                    {
                        if (ClosedMidFile(exception, declared, size))
                        {
                            throw new SourceError("SOURCE_MISMATCH", "the server closed the connection mid-file (truncated)");
                        }
                        SourceError error = exception is HostException ? null : NetworkError(exception);
                        if (error == null && exception is HostException)
                        {
                            error = FolderError(where, exception, where + " could not be read");
                        }
                        if (error == null)
                        {
                            throw;
                        }
                        throw error;
                    }
                    if (read <= 0)
                    {
                        break;
                    }
                    sha.TransformBlock(buffer, 0, read, null, 0);
                    writer.Write(buffer, 0, read);
                    size += read;
                }
                sha.TransformFinalBlock(buffer, 0, 0);
                writer.Flush();
                return Hashing.Hex(sha.Hash);
            }
        }

        // Whether a read failed because the server closed the connection before the Content-Length it declared: .NET
        // Framework throws an IOException with no socket error inside ("The connection was closed."), where a reset
        // carries the socket's error. The POSIX agent's IncompleteRead: a truncated file (SOURCE_MISMATCH) on both agents.
        private static bool ClosedMidFile(Exception exception, long declared, long size)
        {
            if (declared < 0 || size >= declared || !(exception is IOException) || exception is HostException)
            {
                return false;
            }
            for (Exception inner = exception.InnerException; inner != null; inner = inner.InnerException)
            {
                if (inner is System.Net.Sockets.SocketException || inner is WebException)
                {
                    return false;
                }
            }
            return true;
        }

        // The folders above a set file (its path split at '/'), made where they are missing; stage uses it too.
        public static void MakeParents(IFileSystem files, string top, string[] parts)
        {
            string current = top;
            for (int i = 0; i < parts.Length - 1; i++)
            {
                current = Paths.Join(current, parts[i]);
                if (files.Stat(current) == null)
                {
                    files.CreateFolder(current);
                }
            }
        }

        // The order set files are written in: the marker file last (so a set is complete once it is there); stage uses it too.
        public static int MarkerLast(string a, string b, string marker)
        {
            bool am = string.Equals(a.ToLowerInvariant(), marker, StringComparison.Ordinal);
            bool bm = string.Equals(b.ToLowerInvariant(), marker, StringComparison.Ordinal);
            if (am != bm)
            {
                return am ? 1 : -1;
            }
            return string.CompareOrdinal(a, b);
        }

        // What landed, read back from the store: an antivirus filter may clean, cut or remove a file just written.
        private static void ReadBack(IHost host, string target, IDictionary manifest, List<string> names)
        {
            MatchReadBack(host.Files, target, manifest, names, "fetched", "the staging folder was removed");
        }

        // Each landed file of `names` read back from `target` and matched with `manifest` (as the POSIX agent's
        // match_read_back): READ_BACK_MISMATCH names the first that differs or cannot be read (removed or locked by a
        // filter right after it landed); `how` says how it came there, `left` what became of the folder. Stage uses it too.
        public static void MatchReadBack(IFileSystem files, string target, IDictionary manifest, List<string> names, string how, string left)
        {
            foreach (string rel in names)
            {
                IDictionary want = (IDictionary)manifest[rel];
                long size = -1;
                string digest = null;
                try
                {
                    using (Stream stream = files.OpenRead(Paths.JoinRelative(target, rel)))
                    {
                        digest = Sha.Stream(stream, out size);
                    }
                }
                catch (IOException)
                {
                    // gone or locked: no digest, which matches nothing
                }
                catch (UnauthorizedAccessException)
                {
                    // a filter that denies the read: no digest either
                }
                if (size != Req.NeedLong(want, "size") || digest != Req.NeedStr(want, "sha256"))
                {
                    throw new Refusal("failed", rel + " does not read back from " + target + " as it was " + how + " (an antivirus filter cleaned, cut or removed it?); " + left, "READ_BACK_MISMATCH", null);
                }
            }
        }

        // The PEM text of ca_path, once its certificates are known to load: a file that holds none refuses the source
        // (SOURCE_TLS, as the POSIX agent's ssl module does) naming ca_path and the fix, before any file is fetched.
        private static string CaBundle(IHost host, string caPath)
        {
            string pem = ReadText(host, caPath);
            string why;
            try
            {
                WebDownloads.Authorities(pem);
                return pem;
            }
            catch (ArgumentException exception)
            {
                why = exception.Message;
            }
            catch (FormatException exception)
            {
                why = exception.Message;
            }
            catch (CryptographicException exception)
            {
                why = exception.Message;
            }
            throw new SourceError("SOURCE_TLS", "ca_path " + caPath + " holds no PEM certificate that loads (" + why + "): give a PEM file of the CA certificates that sign the distribution point's certificate");
        }

        private static string ReadText(IHost host, string path)
        {
            using (Stream stream = host.Files.OpenRead(path))
            using (StreamReader reader = new StreamReader(stream, Encoding.ASCII))
            {
                char[] buffer = new char[1 << 20];
                int read = reader.ReadBlock(buffer, 0, buffer.Length);
                return new string(buffer, 0, read);
            }
        }
    }

    // The whole set's time, on the host's clock; a timer aborts a download that is still running when it passes.
    public sealed class Deadline
    {
        private readonly IClock clock;
        private readonly double ends;
        private readonly long seconds;
        private readonly string source;

        public Deadline(IClock clock, long seconds, string source)
        {
            this.clock = clock;
            this.seconds = seconds;
            this.source = source;
            ends = clock.Now + seconds;
        }

        public bool Passed
        {
            get { return clock.Now >= ends; }
        }

        public SourceError Error()
        {
            return new SourceError("SOURCE_TIMEOUT", source + " did not deliver the set within " + seconds.ToString(CultureInfo.InvariantCulture) + " seconds (deadline_seconds)");
        }

        public void Check()
        {
            if (Passed)
            {
                throw Error();
            }
        }

        // `call` on a thread of its own, waited for until the deadline only (the POSIX agent's Deadline.run): a share
        // whose server stops answering (holds every request pending) blocks that thread, never the step. The abandoned
        // thread is a background one: it ends when the call returns or with the process.
        public T Run<T>(Func<T> call)
        {
            Task<T> work = Task.Factory.StartNew(call, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            bool done;
            try
            {
                done = work.Wait((int)Math.Min(Math.Max(0, ends - clock.Now) * 1000, int.MaxValue));
            }
            catch (AggregateException failed)
            {
                ExceptionDispatchInfo.Capture(failed.InnerException ?? failed).Throw();
                throw;
            }
            if (!done)
            {
                // what the call meets once it returns is nobody's: observed here, never raised
                work.ContinueWith(delegate(Task<T> late) { return late.Exception; }, TaskContinuationOptions.OnlyOnFaulted);
                throw Error();
            }
            return work.Result;
        }

        public Timer Cutter(Action abort)
        {
            double left = Math.Max(0, ends - clock.Now) * 1000;
            TimerCallback cut = delegate
            {
                if (abort != null)
                {
                    abort();
                }
            };
            return new Timer(cut, null, (long)Math.Min(left, int.MaxValue), Timeout.Infinite);
        }
    }

    // A file of a share read within the deadline: each read on a thread of its own (Deadline.Run). Closing it does
    // not wait for a read abandoned at the deadline: .NET holds the file's handle (SafeHandle) until that read returns.
    public sealed class DeadlineReads : Stream
    {
        private readonly Stream inner;
        private readonly Deadline deadline;

        public DeadlineReads(Stream inner, Deadline deadline)
        {
            this.inner = inner;
            this.deadline = deadline;
        }

        public override bool CanRead { get { return true; } }
        public override bool CanSeek { get { return false; } }
        public override bool CanWrite { get { return false; } }
        public override long Length { get { throw new NotSupportedException(); } }

        public override long Position
        {
            get { throw new NotSupportedException(); }
            set { throw new NotSupportedException(); }
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin)
        {
            throw new NotSupportedException();
        }

        public override void SetLength(long value)
        {
            throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            return deadline.Run(delegate { return inner.Read(buffer, offset, count); });
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    // .NET's HttpWebRequest: the system proxy (or the request's), TLS 1.2 or later, no redirect followed, no decoding.
    public sealed class WebDownloads : IDownloads
    {
        private const int Tls12 = 3072;
        private const int Tls13 = 12288;

        // .NET 4.5 knows TLS 1.2 (3072) but offers SSL 3 and TLS 1.0 unless told: TLS 1.2, and TLS 1.3 (12288) only
        // where the process offers it already (asking for it where Schannel lacks it fails every handshake); never
        // SSL 3, TLS 1.0 or 1.1, and never the OS's defaults (SystemDefault, 0), which may still include TLS 1.0.
        public static int Protocols(int current)
        {
            return Tls12 | (current & Tls13);
        }

        public Download Get(string url, DownloadOptions options)
        {
            HttpWebRequest request = (HttpWebRequest)WebRequest.Create(url);
            request.Method = "GET";
            request.AllowAutoRedirect = false;
            request.AutomaticDecompression = DecompressionMethods.None;
            request.KeepAlive = true;
            request.Timeout = options.TimeoutSeconds * 1000;
            request.ReadWriteTimeout = options.TimeoutSeconds * 1000;
            request.UserAgent = "mailsec.smsmse";
            request.Headers[HttpRequestHeader.AcceptEncoding] = "identity";
            request.Proxy = ProxyFor(options.Proxy);
            // always a callback of the request's own: a process-wide ServicePointManager callback (other code of a
            // reused PowerShell process may have set one that takes any certificate) never decides for a fetch
            request.ServerCertificateValidationCallback = Validator(options);
            // a kept-alive connection is reused only by a request of the same certificate rules: the callback runs
            // at the handshake alone, so a connection opened under validate_certs: false must never carry a fetch
            // that validates, nor one checked against one ca_path a fetch that names another
            request.ConnectionGroupName = ConnectionGroup(options);
            bool tls = string.Equals(request.RequestUri.Scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase);
            HttpWebResponse response;
            // ServicePointManager.SecurityProtocol is process-wide and read when a connection's handshake starts, in
            // GetResponse: it is changed only for an https:// request whose process does not offer TLS 1.2 or later
            // alone, and put back once the response has come (a kept-alive connection keeps the protocol it agreed
            // on). Other code of the process that connects in that instant offers TLS 1.2 or later too.
            SecurityProtocolType before = ServicePointManager.SecurityProtocol;
            SecurityProtocolType wanted = (SecurityProtocolType)Protocols((int)before);
            bool change = tls && before != wanted;
            try
            {
                if (change)
                {
                    ServicePointManager.SecurityProtocol = wanted;
                }
                response = (HttpWebResponse)request.GetResponse();
            }
            catch (WebException exception)
            {
                response = exception.Response as HttpWebResponse;
                if (response == null)
                {
                    throw;
                }
            }
            finally
            {
                if (change)
                {
                    ServicePointManager.SecurityProtocol = before;
                }
            }
            Download answer = new Download();
            answer.Status = (int)response.StatusCode;
            answer.Reason = response.StatusDescription;
            answer.Location = response.Headers["Location"];
            answer.Length = response.ContentLength;
            answer.Body = response.GetResponseStream();
            answer.Abort = request.Abort;
            return answer;
        }

        // The request's proxy. An explicit `proxy`: a WebProxy of its own, answered with the identity the agent runs
        // as (Kerberos or NTLM, never a password), since the administrator named it. Else the system proxy
        // (WebRequest.DefaultWebProxy: machine.config's <defaultProxy>, else the account's settings and WPAD), read and
        // never changed: the agent gives it no credentials of its own (only a useDefaultCredentials the administrator
        // set in machine.config applies), so a proxy found through WPAD is never handed the agent's identity.
        public static IWebProxy ProxyFor(string proxy)
        {
            if (proxy == null)
            {
                return WebRequest.DefaultWebProxy;
            }
            WebProxy named = new WebProxy(ProxyUri(proxy));
            named.Credentials = CredentialCache.DefaultCredentials;
            return named;
        }

        // The explicit proxy's URL: http(s)://host[:port] and nothing more, else an error naming the option and the fix.
        public static Uri ProxyUri(string proxy)
        {
            Uri parsed;
            bool ok = Uri.TryCreate(proxy, UriKind.Absolute, out parsed)
                && parsed.Scheme == Uri.UriSchemeHttp
                && parsed.Host.Length > 0 && parsed.UserInfo.Length == 0 && parsed.AbsolutePath == "/" && parsed.Query.Length == 0 && parsed.Fragment.Length == 0;
            if (!ok)
            {
                throw new ArgumentException("proxy '" + Text.Head(Fetcher.Safe(proxy), 256) + "' is not an http:// URL of a host and port "
                    + "(.NET Framework speaks plain HTTP to a proxy; an https source is tunnelled through it with CONNECT): give the proxy's URL alone, for example http://proxy.example.com:3128 (defs_import: proxy; role: defs_health_source_proxy)");
            }
            return parsed;
        }

        // The pool of kept-alive connections a request may use: one per certificate rule (validate_certs false, the
        // system's CAs, or the CAs of one ca_path bundle) and proxy.
        public static string ConnectionGroup(DownloadOptions options)
        {
            string rule = !options.ValidateCerts ? "any-certificate" : options.CaPem == null ? "system-cas" : "ca:" + Sha.Of(Encoding.UTF8.GetBytes(options.CaPem));
            return "mailsec.smsmse " + rule + " proxy:" + (options.Proxy ?? "system");
        }

        // The request's certificate check: any certificate (validate_certs: false); the system's verdict (the
        // chain to a CA the host trusts and the host name: SslPolicyErrors.None); or, with ca_path, a certificate
        // for the host name asked whose chain, built for server authentication, ends at a CA of ca_path.
        public static RemoteCertificateValidationCallback Validator(DownloadOptions options)
        {
            if (!options.ValidateCerts)
            {
                return delegate { return true; };
            }
            if (options.CaPem == null)
            {
                return delegate(object sender, X509Certificate certificate, X509Chain chain, SslPolicyErrors errors) { return errors == SslPolicyErrors.None; };
            }
            X509Certificate2Collection authorities = Authorities(options.CaPem);
            return delegate(object sender, X509Certificate certificate, X509Chain chain, SslPolicyErrors errors)
            {
                if (certificate == null || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
                {
                    return false;
                }
                return SignedFor(new X509Certificate2(certificate), authorities);
            };
        }

        // Whether `certificate` is for server authentication and its chain ends at one of `authorities`.
        public static bool SignedFor(X509Certificate2 certificate, X509Certificate2Collection authorities)
        {
            if (!ForServerAuthentication(certificate))
            {
                return false;
            }
            X509Chain own = new X509Chain();
            try
            {
                own.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                own.ChainPolicy.VerificationFlags = X509VerificationFlags.AllowUnknownCertificateAuthority;
                own.ChainPolicy.ApplicationPolicy.Add(new Oid(ServerAuthentication));
                own.ChainPolicy.ExtraStore.AddRange(authorities);
                if (!own.Build(certificate))
                {
                    return false;
                }
                X509Certificate2 root = own.ChainElements[own.ChainElements.Count - 1].Certificate;
                foreach (X509Certificate2 authority in authorities)
                {
                    if (string.Equals(authority.Thumbprint, root.Thumbprint, StringComparison.OrdinalIgnoreCase))
                    {
                        return true;
                    }
                }
                return false;
            }
            finally
            {
                // X509Chain is IDisposable from .NET 4.6 on: disposed there; on 4.5, Reset frees what it built
                own.Reset();
                IDisposable disposable = own as IDisposable;
                if (disposable != null)
                {
                    disposable.Dispose();
                }
            }
        }

        public const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";
        private const string AnyPurpose = "2.5.29.37.0";

        // The chain policy's application policy asks .NET for the purpose; the extension is read here too, so that
        // the rule holds on any runtime: a certificate that lists its purposes must list server authentication
        // (or any purpose); one that lists none is for any.
        public static bool ForServerAuthentication(X509Certificate2 certificate)
        {
            foreach (X509Extension extension in certificate.Extensions)
            {
                X509EnhancedKeyUsageExtension usages = extension as X509EnhancedKeyUsageExtension;
                if (usages == null)
                {
                    continue;
                }
                foreach (Oid usage in usages.EnhancedKeyUsages)
                {
                    if (usage.Value == ServerAuthentication || usage.Value == AnyPurpose)
                    {
                        return true;
                    }
                }
                return false;
            }
            return true;
        }

        // The certificates of a PEM bundle.
        public static X509Certificate2Collection Authorities(string pem)
        {
            const string Begin = "-----BEGIN CERTIFICATE-----";
            const string End = "-----END CERTIFICATE-----";
            X509Certificate2Collection found = new X509Certificate2Collection();
            int at = 0;
            while ((at = pem.IndexOf(Begin, at, StringComparison.Ordinal)) >= 0)
            {
                int stop = pem.IndexOf(End, at, StringComparison.Ordinal);
                if (stop < 0)
                {
                    break;
                }
                string body = pem.Substring(at + Begin.Length, stop - at - Begin.Length);
                found.Add(new X509Certificate2(Convert.FromBase64String(body.Replace("\r", "").Replace("\n", "").Trim())));
                at = stop + End.Length;
            }
            if (found.Count == 0)
            {
                throw new ArgumentException("ca_path holds no PEM certificate");
            }
            return found;
        }
    }
}
