#include "egress/enforcer.h"

#include <fmt/format.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "util/log.h"

namespace mailport::egress {
namespace {

struct AllowElement {
  Prefix source;
  std::optional<Prefix> destination;
  std::int64_t expires_at = 0;  // 0: none
};

bool Covers(const AllowElement& outer, const AllowElement& inner) {
  if (!outer.source.Contains(inner.source)) return false;
  if (!outer.destination) return true;
  return inner.destination && outer.destination->Contains(*inner.destination);
}

// Returns the active exceptions of one family as disjoint set elements.
// nftables rejects overlapping intervals, so an element inside another one
// is left out.  It comes back when the outer one expires, because egressd
// resynchronizes the sets at every expiry.
std::vector<AllowElement> AllowElements(const std::vector<Request>& exceptions,
                                        std::int64_t now, Family family,
                                        bool with_destinations) {
  std::vector<AllowElement> elements;
  for (const Request& request : exceptions) {
    if (!request.IsActiveException(now) || request.source.family != family) {
      continue;
    }
    bool restricted = !request.destinations.empty();
    if (restricted != with_destinations) continue;
    if (!restricted) {
      elements.push_back({request.source, std::nullopt, request.expires_at});
    }
    for (const Prefix& destination : request.destinations) {
      elements.push_back({request.source, destination, request.expires_at});
    }
  }
  // Among equal elements keep the one that lasts longest; then drop any
  // element covered by another.
  auto lasts_longer = [](const AllowElement& a, const AllowElement& b) {
    if (a.expires_at == 0) return b.expires_at != 0;
    return b.expires_at != 0 && a.expires_at > b.expires_at;
  };
  std::vector<AllowElement> disjoint;
  for (std::size_t i = 0; i < elements.size(); ++i) {
    bool drop = false;
    for (std::size_t j = 0; j < elements.size() && !drop; ++j) {
      if (i == j || !Covers(elements[j], elements[i])) continue;
      bool equal = Covers(elements[i], elements[j]);
      drop = !equal || lasts_longer(elements[j], elements[i]) ||
             (!lasts_longer(elements[i], elements[j]) && j < i);
    }
    if (!drop) disjoint.push_back(elements[i]);
  }
  // NOTE: two destination-restricted exceptions whose source and
  // destination ranges cross without nesting still overlap.  nftables then
  // rejects the set update, and egressd keeps the previous sets and logs it.
  return disjoint;
}

std::string FamilySuffix(Family family) {
  return family == Family::kIpv4 ? "v4" : "v6";
}

}  // namespace

std::string NftEnforcer::SetElements(const std::vector<Request>& exceptions,
                                     std::int64_t now, Family family,
                                     bool with_destinations) const {
  std::string text;
  for (const AllowElement& element :
       AllowElements(exceptions, now, family, with_destinations)) {
    if (!text.empty()) text += ", ";
    text += element.source.ToString();
    if (element.destination) text += " . " + element.destination->ToString();
    if (element.expires_at != 0) {
      text += fmt::format(" timeout {}s", element.expires_at - now);
    }
  }
  return text;
}

std::string NftEnforcer::BuildRuleset(const std::vector<Request>& exceptions,
                                      std::int64_t now) const {
  const std::string& table = config_.table_name;
  std::string out;
  // Creating the table first makes the delete valid on a fresh system; all
  // three commands are one transaction.
  out += fmt::format("add table inet {}\ndelete table inet {}\n", table, table);
  out += fmt::format("table inet {} {{\n", table);

  std::string blocked_action = config_.blocked_action == BlockedAction::kReject
                                   ? "reject with tcp reset"
                                   : "drop";
  for (Family family : {Family::kIpv4, Family::kIpv6}) {
    std::string suffix = FamilySuffix(family);
    std::string type = family == Family::kIpv4 ? "ipv4_addr" : "ipv6_addr";
    std::string instances;
    for (const Prefix& prefix : config_.InstanceNetworks(family)) {
      if (!instances.empty()) instances += ", ";
      instances += prefix.ToString();
    }
    out += fmt::format("  set instances_{} {{ type {}; flags interval; ",
                       suffix, type);
    if (!instances.empty())
      out += fmt::format("elements = {{ {} }} ", instances);
    out += "}\n";

    std::string allow = SetElements(exceptions, now, family, false);
    out += fmt::format("  set allow_{} {{ type {}; flags interval, timeout; ",
                       suffix, type);
    if (!allow.empty()) out += fmt::format("elements = {{ {} }} ", allow);
    out += "}\n";

    std::string allow_pairs = SetElements(exceptions, now, family, true);
    out += fmt::format(
        "  set allow_dest_{} {{ type {} . {}; flags interval, timeout; ",
        suffix, type, type);
    if (!allow_pairs.empty()) {
      out += fmt::format("elements = {{ {} }} ", allow_pairs);
    }
    out += "}\n";

    out += fmt::format(
        "  set blocked_{} {{ type {}; size 65536; flags dynamic, timeout; "
        "timeout 1d; }}\n",
        suffix, type);
    for (const char* counter : {"allowed", "allowed_dest", "blocked"}) {
      out += fmt::format("  counter {}_{} {{ }}\n", counter, suffix);
    }
  }

  std::string interfaces;
  for (const std::string& name : config_.instance_interfaces) {
    if (!interfaces.empty()) interfaces += ", ";
    interfaces += fmt::format("\"{}\"", name);
  }
  std::string from_instances =
      interfaces.empty() ? "" : fmt::format("iifname {{ {} }} ", interfaces);
  std::string to_instances =
      interfaces.empty() ? "" : fmt::format("oifname {{ {} }} ", interfaces);
  if (config_.hook == Hook::kPrerouting) to_instances = "";

  std::string hook = config_.hook == Hook::kForward ? "forward" : "prerouting";
  out += fmt::format(
      "  chain gate {{\n"
      "    type filter hook {} priority {}; policy accept;\n"
      "    {}meta l4proto tcp tcp dport 25 jump smtp_out "
      "comment \"port 25 from instances\"\n"
      "    {}meta l4proto tcp tcp sport 25 jump smtp_in "
      "comment \"port 25 replies to instances\"\n"
      "  }}\n",
      hook, config_.hook_priority, from_instances, to_instances);

  for (Family family : {Family::kIpv4, Family::kIpv6}) {
    std::string suffix = FamilySuffix(family);
    std::string ip = family == Family::kIpv4 ? "ip" : "ip6";
    out += fmt::format(
        "  chain smtp_out_{0} {{\n"
        "    {1} saddr != @instances_{0} return comment \"not an instance\"\n"
        "    {1} saddr @allow_{0} counter name \"allowed_{0}\" return "
        "comment \"exception\"\n"
        "    {1} saddr . {1} daddr @allow_dest_{0} counter name "
        "\"allowed_dest_{0}\" return comment \"exception to destination\"\n"
        "    ct state new update @blocked_{0} "
        "{{ {1} saddr counter }} counter name \"blocked_{0}\"\n"
        "    {2} comment \"port 25 blocked\"\n"
        "  }}\n"
        "  chain smtp_in_{0} {{\n"
        "    {1} daddr != @instances_{0} return\n"
        "    {1} daddr @allow_{0} return\n"
        "    {1} daddr . {1} saddr @allow_dest_{0} return\n"
        "    {2} comment \"port 25 reply blocked\"\n"
        "  }}\n",
        suffix, ip, blocked_action);
  }
  out +=
      "  chain smtp_out {\n"
      "    meta nfproto ipv4 jump smtp_out_v4\n"
      "    meta nfproto ipv6 jump smtp_out_v6\n"
      "  }\n"
      "  chain smtp_in {\n"
      "    meta nfproto ipv4 jump smtp_in_v4\n"
      "    meta nfproto ipv6 jump smtp_in_v6\n"
      "  }\n"
      "}\n";
  return out;
}

std::string NftEnforcer::BuildSetUpdate(const std::vector<Request>& exceptions,
                                        std::int64_t now) const {
  std::string out;
  for (Family family : {Family::kIpv4, Family::kIpv6}) {
    std::string suffix = FamilySuffix(family);
    for (bool with_destinations : {false, true}) {
      std::string set = fmt::format(
          "{}_{}", with_destinations ? "allow_dest" : "allow", suffix);
      out += fmt::format("flush set inet {} {}\n", config_.table_name, set);
      std::string elements =
          SetElements(exceptions, now, family, with_destinations);
      if (!elements.empty()) {
        out += fmt::format("add element inet {} {} {{ {} }}\n",
                           config_.table_name, set, elements);
      }
    }
  }
  return out;
}

Result<std::string> NftEnforcer::Run(const std::string& commands, bool json) {
  std::unique_ptr<nft_ctx, decltype(&nft_ctx_free)> context(
      nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
  if (!context) return TemporaryError("nftables: cannot create a context");
  nft_ctx_buffer_output(context.get());
  nft_ctx_buffer_error(context.get());
  if (json)
    nft_ctx_output_set_flags(context.get(), NFT_CTX_OUTPUT_JSON);
  else
    nft_ctx_output_set_flags(context.get(), NFT_CTX_OUTPUT_HANDLE);
  int result = nft_run_cmd_from_buffer(context.get(), commands.c_str());
  std::string output = nft_ctx_get_output_buffer(context.get());
  std::string errors = nft_ctx_get_error_buffer(context.get());
  if (result != 0) {
    return TemporaryError(fmt::format("nftables rejected the change: {}",
                                      errors.empty() ? "no message" : errors));
  }
  return output;
}

Status NftEnforcer::Rebuild(const std::vector<Request>& exceptions,
                            std::int64_t now) {
  auto result = Run(BuildRuleset(exceptions, now));
  if (!result) return result.error();
  return Status::Ok();
}

Status NftEnforcer::SyncExceptions(const std::vector<Request>& exceptions,
                                   std::int64_t now) {
  // A table that someone deleted is rebuilt rather than patched.
  auto exists =
      Run(fmt::format("list set inet {} allow_v4", config_.table_name));
  if (!exists) return Rebuild(exceptions, now);
  auto result = Run(BuildSetUpdate(exceptions, now));
  if (!result) return result.error();
  return Status::Ok();
}

Result<std::vector<BlockedCounter>> NftEnforcer::BlockedCounters() {
  std::vector<BlockedCounter> counters;
  for (const char* set : {"blocked_v4", "blocked_v6"}) {
    auto output =
        Run(fmt::format("list set inet {} {}", config_.table_name, set), true);
    if (!output) return output.error();
    auto document = nlohmann::json::parse(*output, nullptr, false);
    if (document.is_discarded()) {
      return TemporaryError("nftables returned JSON that does not parse");
    }
    for (const auto& item :
         document.value("nftables", nlohmann::json::array())) {
      if (!item.contains("set")) continue;
      for (const auto& element :
           item["set"].value("elem", nlohmann::json::array())) {
        BlockedCounter counter;
        const auto& inner =
            element.contains("elem") ? element["elem"] : element;
        if (inner.is_string()) {
          counter.source = inner.get<std::string>();
        } else {
          counter.source = inner.value("val", "");
          if (inner.contains("counter")) {
            counter.packets = inner["counter"].value("packets", 0ULL);
          }
        }
        counters.push_back(counter);
      }
    }
  }
  std::sort(counters.begin(), counters.end(),
            [](const BlockedCounter& a, const BlockedCounter& b) {
              return a.packets > b.packets;
            });
  return counters;
}

Result<std::uint64_t> NftEnforcer::NamedCounter(const std::string& name) {
  auto output = Run(
      fmt::format("list counter inet {} {}", config_.table_name, name), true);
  if (!output) return output.error();
  auto document = nlohmann::json::parse(*output, nullptr, false);
  if (document.is_discarded()) {
    return TemporaryError("nftables returned JSON that does not parse");
  }
  for (const auto& item : document.value("nftables", nlohmann::json::array())) {
    if (item.contains("counter")) return item["counter"].value("packets", 0ULL);
  }
  return TemporaryError(fmt::format("counter {} not found", name));
}

Result<std::string> NftEnforcer::ListChain(const std::string& chain) {
  return Run(fmt::format("list chain inet {} {}", config_.table_name, chain));
}

Result<bool> NftEnforcer::SetContains(const std::string& set,
                                      const std::string& key) {
  auto result = Run(fmt::format("get element inet {} {} {{ {} }}",
                                config_.table_name, set, key));
  return result.ok();
}

namespace {

struct CutContext {
  Prefix source;
  std::vector<nf_conntrack*> matches;
};

bool AddressInPrefix(const void* address, const Prefix& prefix) {
  Prefix host;
  host.family = prefix.family;
  host.length = host.MaxLength();
  std::memcpy(host.bytes.data(), address,
              prefix.family == Family::kIpv4 ? 4 : 16);
  return prefix.Contains(host);
}

int CollectMatch(enum nf_conntrack_msg_type, struct nf_conntrack* entry,
                 void* data) {
  auto* context = static_cast<CutContext*>(data);
  if (nfct_get_attr_u8(entry, ATTR_ORIG_L4PROTO) != IPPROTO_TCP) {
    return NFCT_CB_CONTINUE;
  }
  if (ntohs(nfct_get_attr_u16(entry, ATTR_ORIG_PORT_DST)) != 25) {
    return NFCT_CB_CONTINUE;
  }
  const void* source = context->source.family == Family::kIpv4
                           ? nfct_get_attr(entry, ATTR_ORIG_IPV4_SRC)
                           : nfct_get_attr(entry, ATTR_ORIG_IPV6_SRC);
  if (source != nullptr && AddressInPrefix(source, context->source)) {
    context->matches.push_back(nfct_clone(entry));
  }
  return NFCT_CB_CONTINUE;
}

}  // namespace

Result<int> NftEnforcer::CutConnections(const Prefix& source) {
  if (!config_.conntrack_flush) return 0;
  nfct_handle* handle = nfct_open(CONNTRACK, 0);
  if (handle == nullptr) {
    return TemporaryError(fmt::format("conntrack: cannot open netlink: {}",
                                      std::strerror(errno)));
  }
  CutContext context{source, {}};
  nfct_callback_register(handle, NFCT_T_ALL, CollectMatch, &context);
  std::uint32_t family = source.family == Family::kIpv4 ? AF_INET : AF_INET6;
  int dump = nfct_query(handle, NFCT_Q_DUMP, &family);
  int dump_errno = errno;
  nfct_callback_unregister(handle);

  int deleted = 0;
  for (nf_conntrack* entry : context.matches) {
    // An entry may end on its own between the dump and the delete.
    if (nfct_query(handle, NFCT_Q_DESTROY, entry) == 0) ++deleted;
    nfct_destroy(entry);
  }
  nfct_close(handle);
  if (dump != 0) {
    return TemporaryError(
        fmt::format("conntrack: dump failed: {}", std::strerror(dump_errno)));
  }
  return deleted;
}

}  // namespace mailport::egress
