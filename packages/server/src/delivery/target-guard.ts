import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * What a caller is told when a target is refused. It says neither what a host name
 * resolved to nor whether it resolved at all: anyone who may create an endpoint could
 * otherwise map the names and addresses of the network Hookwell runs in. The operator's
 * setting is named so that a private deployment knows what to change.
 */
export const TARGET_NOT_ALLOWED =
  'the target address is not allowed: Hookwell delivers only to public addresses (set HOOKWELL_ALLOW_PRIVATE_TARGETS=true to allow private ones)';
export const TARGET_NAME_NOT_ALLOWED =
  'the target host name does not resolve to an allowed address: Hookwell delivers only to public addresses ' +
  '(set HOOKWELL_ALLOW_PRIVATE_TARGETS=true to allow private ones)';
/** A name that does not resolve, when private targets are allowed (and so nothing is hidden by the guard). */
export const TARGET_UNRESOLVED = 'could not resolve the target host name';

/** A delivery target Hookwell refuses to call. The message is safe to show to the caller. */
export class TargetRefusedError extends Error {
  readonly code = 'HOOKWELL_TARGET_REFUSED';
}

/** Global unicast, the only IPv6 space that is routed on the public internet (RFC 4291, 2.4). */
const GLOBAL_UNICAST: [ipaddr.IPv6, number] = [ipaddr.IPv6.parse('2000::'), 3];

/**
 * Public unicast only. Every range ipaddr.js names (loopback, private, CGNAT, link-local,
 * multicast, broadcast, unspecified, documentation, benchmarking, 240/4, unique-local,
 * discard, ORCHID, segment routing, the IPv4-in-IPv6 forms …) is refused; for IPv6 only
 * 2000::/3 is considered at all, so `::7f00:1` and anything else outside it are refused
 * even where the library has no name for them.
 *
 * An IPv4 address written as IPv6 is judged as that IPv4 address only in the IPv4-mapped
 * form (::ffff:a.b.c.d), which is how the operating system itself shows IPv4 on an IPv6
 * socket and which connects to exactly that IPv4 address. Every other form that embeds or
 * translates one (IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, SIIT
 * ::ffff:0:a.b.c.d, 6to4 2002::/16, Teredo 2001::/32) is refused whatever it embeds: where
 * it leads depends on gateways Hookwell cannot see.
 */
export function isPublicAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return false;
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // ipaddr.js reads a dotted quad at the end of any IPv6 address as IPv4-mapped
    // (`::127.0.0.1` as `::ffff:127.0.0.1`), so IPv6 text is first put in the hex-only
    // form of the WHATWG URL parser, the one that reads endpoint URLs (a zone id is refused).
    ip = family === 4 ? ipaddr.IPv4.parse(address) : ipaddr.IPv6.parse(new URL(`http://[${address}]/`).hostname.slice(1, -1));
  } catch {
    return false;
  }
  if (ip.kind() === 'ipv6') {
    const v6 = ip as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().range() === 'unicast';
    return v6.match(GLOBAL_UNICAST) && v6.range() === 'unicast';
  }
  return ip.range() === 'unicast';
}

/** Checks a URL whose host is an IP literal; names are checked at connect time instead. */
export function checkLiteralHost(url: URL): void {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (net.isIP(host) !== 0 && !isPublicAddress(host)) throw new TargetRefusedError(TARGET_NOT_ALLOWED);
}

/**
 * The answer for a host name from every address it resolved to: all of them must be
 * public, not only the first, since the HTTP client may try any of them. The refusal
 * names neither the host nor the address.
 */
export function checkResolved(addresses: readonly dns.LookupAddress[]): TargetRefusedError | null {
  if (addresses.length === 0 || addresses.some((a) => !isPublicAddress(a.address))) return new TargetRefusedError(TARGET_NAME_NOT_ALLOWED);
  return null;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;
type Resolve = (hostname: string, options: dns.LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void) => void;

/**
 * A `lookup` for the HTTP client's sockets. Checking the addresses the socket is about to
 * use, not a separate resolution made earlier, closes the DNS-rebinding gap. `resolve` is
 * the system resolver; tests give their own answers.
 */
export function makeGuardedLookup(resolve: Resolve = dns.lookup as unknown as Resolve) {
  return function guardedLookup(hostname: string, options: dns.LookupOptions, callback: LookupCallback): void {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      // A name that does not resolve gets the same answer as one that resolves to a private
      // address: the difference would tell the caller which internal names exist.
      if (err) return callback(new TargetRefusedError(TARGET_NAME_NOT_ALLOWED) as NodeJS.ErrnoException, []);
      const refused = checkResolved(addresses);
      if (refused !== null) return callback(refused as NodeJS.ErrnoException, []);
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}

export const guardedLookup = makeGuardedLookup();
