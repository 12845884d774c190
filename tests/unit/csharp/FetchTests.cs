// Copyright: mailsec.smsmse developers
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The Windows fetch's web client (WebDownloads in plugins/module_utils/SmsmseEngineFetch.cs) under mono,
// against real servers on 127.0.0.1, in one process as a reused PowerShell (PSRP) process would run it:
// what other code of the process set process-wide (a certificate callback, the TLS protocols, the default
// proxy) must neither weaken nor be changed by a fetch. Run by tests/unit/test_engine_fetch.py, which
// starts the servers: args are the HTTPS URL of a server whose certificate the CA args[1] signed for
// server authentication, the HTTPS URL of one whose certificate the CA args[3] signed for client
// authentication only, and a plain HTTP URL; each serves hello.dat. Prints "ok NAME" or "FAIL NAME why".

using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Text;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngine;
using ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineFetch;

namespace FetchTests
{
    public static class Program
    {
        private static int failed;

        private static void Check(string name, bool ok, string why)
        {
            if (ok)
            {
                Console.WriteLine("ok " + name);
            }
            else
            {
                failed++;
                Console.WriteLine("FAIL " + name + " " + why.Replace("\n", " "));
            }
        }

        private static DownloadOptions Options(bool validate, string caPem, string proxy)
        {
            DownloadOptions options = new DownloadOptions();
            options.TimeoutSeconds = 10;
            options.ValidateCerts = validate;
            options.CaPem = caPem;
            options.Proxy = proxy;
            return options;
        }

        // "done: <status> <body>" or the code the fetch step would refuse with, and the error
        private static string Fetch(string url, DownloadOptions options)
        {
            try
            {
                using (Download answer = new WebDownloads().Get(url, options))
                using (StreamReader reader = new StreamReader(answer.Body, Encoding.ASCII))
                {
                    return "done: " + answer.Status + " " + reader.ReadToEnd();
                }
            }
            catch (Exception exception)
            {
                SourceError error = Fetcher.NetworkError(exception);
                return (error != null ? error.Code : exception.GetType().Name) + ": " + exception.Message;
            }
        }

        public static int Main(string[] args)
        {
            string good = args[0] + "/hello.dat", goodCa = File.ReadAllText(args[1]);
            string clientOnly = args[2] + "/hello.dat", clientOnlyCa = File.ReadAllText(args[3]);
            string plain = args[4] + "/hello.dat";

            // MEDIUM: without ca_path the request carries its own check; a process-wide callback that takes any
            // certificate (left by other code of a reused process) must not decide for it
            {
                ServicePointManager.ServerCertificateValidationCallback = delegate { return true; };
                string got = Fetch(good, Options(true, null, null));
                ServicePointManager.ServerCertificateValidationCallback = null;
                Check("a_process_wide_callback_never_accepts_for_a_fetch", got.StartsWith("SOURCE_TLS", StringComparison.Ordinal), got);
            }

            // LOW: a connection opened under validate_certs: false is never reused by a fetch that validates
            {
                string lax = Fetch(good, Options(false, null, null));
                string strict = Fetch(good, Options(true, null, null));
                Check("validate_certs_false_takes_the_unknown_ca", lax == "done: 200 hello", lax);
                Check("a_lax_connection_is_never_reused_by_a_strict_fetch", strict.StartsWith("SOURCE_TLS", StringComparison.Ordinal), strict);
            }

            // LOW: ca_path accepts a certificate for server authentication only
            {
                string right = Fetch(good, Options(true, goodCa, null));
                string wrong = Fetch(clientOnly, Options(true, clientOnlyCa, null));
                Check("ca_path_takes_a_server_certificate_it_signed", right == "done: 200 hello", right);
                Check("ca_path_refuses_a_certificate_for_client_authentication_only", wrong.StartsWith("SOURCE_TLS", StringComparison.Ordinal), wrong);
            }

            // LOW: the process-wide TLS protocols are what they were after a fetch (other code of the process relies on them)
            {
                SecurityProtocolType before = (SecurityProtocolType)(192 | 3072);
                ServicePointManager.SecurityProtocol = before;
                string got = Fetch(good, Options(true, goodCa, null));
                SecurityProtocolType after = ServicePointManager.SecurityProtocol;
                Check("the_process_tls_protocols_are_put_back", got == "done: 200 hello" && after == before, got + " " + (int)after);
                Check("fetch_offers_tls_1_2_or_later_only", (WebDownloads.Protocols((int)before) & (48 | 192 | 768)) == 0, "an older protocol is offered");
            }

            // MEDIUM: without the proxy option, the process-wide default proxy is never changed (no credentials put on it)
            {
                WebProxy process = new WebProxy();
                WebRequest.DefaultWebProxy = process;
                string got = Fetch(plain, Options(true, null, null));
                Check("the_default_proxy_is_never_changed", got == "done: 200 hello" && process.Credentials == null && WebRequest.DefaultWebProxy == process, got + " " + (process.Credentials == null ? "no credentials" : "credentials set on the process-wide proxy"));
            }

            // MEDIUM: credentials only for the proxy the request names, on a proxy object of its own
            {
                IWebProxy first = WebDownloads.ProxyFor("http://proxy.example.com:3128");
                IWebProxy second = WebDownloads.ProxyFor("http://proxy.example.com:3128");
                IWebProxy system = WebDownloads.ProxyFor(null);
                Check("a_named_proxy_is_answered_with_the_agents_identity", first is WebProxy && first.Credentials == CredentialCache.DefaultCredentials && !ReferenceEquals(first, second), "credentials or a shared proxy object");
                Check("the_system_proxy_gets_no_credentials", system == null || (system.Credentials == null && ReferenceEquals(system, WebRequest.DefaultWebProxy)), "the system proxy carries credentials or is not the process's default (machine.config) proxy");
                bool refused = false;
                try { WebDownloads.ProxyUri("https://proxy.example.com:3128"); } catch (ArgumentException) { refused = true; }
                Check("an_https_proxy_is_refused", refused, "an https:// proxy was accepted: .NET Framework would speak plain HTTP to it");
            }

            // LOW: a malformed proxy URL is an error naming the option and the fix
            {
                string message = "";
                try
                {
                    WebDownloads.ProxyUri("http://proxy.example.com:99999");
                }
                catch (ArgumentException exception)
                {
                    message = exception.Message;
                }
                Check("a_malformed_proxy_names_the_option_and_the_fix", message.StartsWith("proxy 'http://proxy.example.com:99999'", StringComparison.Ordinal) && message.Contains("http://proxy.example.com:3128"), message);
            }

            return failed == 0 ? 0 : 1;
        }
    }
}
