/**
 * Backlog's published webhook sender addresses (support article "Webhook 送信サーバーの IP アドレス").
 * Nulab may change them without notice: the configuration can replace (`webhook.allowedSourceIps`)
 * or extend (`webhook.additionalSourceIps`) this list.
 *
 * The article publishes one list for Backlog, without naming a domain. Whether spaces on
 * `backlogtool.com` (see `BACKLOG_DOMAINS` in ./props) send from the same addresses is not
 * documented (searched Backlog's help center and API reference, 2026-12): unknown, so this list is
 * the default for every domain and the README says how to extend it.
 */
export const BACKLOG_WEBHOOK_SOURCE_IPS: readonly string[] = [
  "54.248.107.22/32",
  "54.248.105.89/32",
  "54.238.168.195/32",
  "52.192.66.90/32",
  "54.65.251.183/32",
  "54.250.148.49/32",
  "35.166.55.243/32",
  "50.112.242.159/32",
  "52.199.112.83/32",
  "35.73.201.244/32",
  "35.72.166.154/32",
  "35.73.143.41/32",
  "35.74.201.20/32",
  "52.198.115.185/32",
  "35.165.230.177/32",
  "18.236.6.123/32",
  "163.135.151.64/26",
  "163.135.251.64/27",
  "163.135.155.0/24",
];
