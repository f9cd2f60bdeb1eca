import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

/** A delivery target that resolves to an address Hookwell refuses to call. */
export class TargetRefusedError extends Error {
  readonly code = 'HOOKWELL_TARGET_REFUSED';
}

/** Only public unicast addresses are allowed unless private targets are enabled. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  return ip.range() === 'unicast';
}

function refuse(host: string, address: string): TargetRefusedError {
  return new TargetRefusedError(
    `refused to deliver to ${host}: it resolves to ${address}, a loopback, private, link-local or otherwise non-public address ` +
      `(set HOOKWELL_ALLOW_PRIVATE_TARGETS=true to allow)`,
  );
}

/** Checks a URL whose host is an IP literal; names are checked at connect time instead. */
export function checkLiteralHost(url: URL): void {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (net.isIP(host) !== 0 && !isPublicAddress(host)) throw refuse(url.hostname, host);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * A `lookup` for the HTTP client's sockets. Checking the address the socket is about to
 * use, not a separate resolution made earlier, closes the DNS-rebinding gap.
 */
export function guardedLookup(hostname: string, options: dns.LookupOptions, callback: LookupCallback): void {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const list = addresses as dns.LookupAddress[];
    const bad = list.find((a) => !isPublicAddress(a.address));
    if (bad !== undefined) return callback(refuse(hostname, bad.address) as NodeJS.ErrnoException, []);
    if (options.all) return callback(null, list);
    const first = list[0]!;
    callback(null, first.address, first.family);
  });
}
