// Which peers count as a trusted proxy (or loopback): their plain-HTTP WebSocket and BOSH connections
// count as secure and their X-Forwarded-* headers are believed. Entries are addresses or CIDR blocks.
import net from 'node:net';

export function trustedPeers(entries: readonly string[]): (address: string) => boolean {
  const list = new net.BlockList();
  list.addSubnet('127.0.0.0', 8, 'ipv4');
  list.addAddress('::1', 'ipv6');
  for (const entry of entries) {
    const slash = entry.indexOf('/');
    const address = slash === -1 ? entry : entry.slice(0, slash);
    const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
    if (slash === -1) list.addAddress(address, family);
    else list.addSubnet(address, Number(entry.slice(slash + 1)), family);
  }
  return (raw: string): boolean => {
    const address = raw.startsWith('::ffff:') ? raw.slice(7) : raw;
    const family = net.isIP(address);
    if (family === 0) return false;
    return list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
}
