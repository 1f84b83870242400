// TunnelRegistry and PortPool: the original crate's 29 registry tests,
// adapted to this registry (no control channel lives here; counters are shared instead of
// copied), plus the limits and checks the original never had.
#include "core/server/registry.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/crypto/crypto.hpp"

namespace zlt {
namespace {

using namespace std::chrono_literals;

const std::string kHashA = crypto::hash_token("token-a");
const std::string kHashB = crypto::hash_token("token-b");

ServiceRequest tcp(std::string name, std::uint16_t local, std::uint16_t remote = 0) {
  ServiceRequest r;
  r.name = std::move(name);
  r.protocol = proto::ServiceProtocol::tcp;
  r.local_port = local;
  r.remote_port = remote;
  return r;
}

std::string error_of(const auto& result) {
  return result.ok() ? "<ok>" : result.error().display();
}

class RegistryTest : public ::testing::Test {
 protected:
  // The original's test registry: ports 30000-30100.
  TunnelRegistry registry{{30000, 30100}};

  Tunnel* add_tunnel(const std::string& hash, const std::string& addr = "127.0.0.1:5000") {
    auto t = registry.register_tunnel(hash, std::nullopt, addr, crypto::uuid_v4());
    EXPECT_TRUE(t.ok()) << error_of(t);
    return t.ok() ? *t : nullptr;
  }
  Result<TunnelService> add(const Tunnel* t, ServiceRequest req) {
    return registry.add_service(t->id, req, crypto::uuid_v4());
  }
};

// ---- the original's tests ----

TEST_F(RegistryTest, RegisterTunnel) {
  const Uuid id = crypto::uuid_v4();
  auto t = registry.register_tunnel(kHashA, std::string("office"), "10.0.0.1:4000", id);
  ASSERT_TRUE(t.ok()) << error_of(t);
  EXPECT_EQ((*t)->id, id);
  EXPECT_EQ((*t)->token_hash, kHashA);
  EXPECT_EQ((*t)->name, "office");
  EXPECT_EQ((*t)->client_addr, "10.0.0.1:4000");
  EXPECT_EQ((*t)->service_count(), 0u);
  EXPECT_EQ(registry.tunnel_count(), 1u);
}

TEST_F(RegistryTest, RegisterDuplicateToken) {
  add_tunnel(kHashA);
  auto again = registry.register_tunnel(kHashA, std::nullopt, "", crypto::uuid_v4());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::registry);
  EXPECT_EQ(again.error().display(), "Registry error: token already registered");
  EXPECT_EQ(registry.tunnel_count(), 1u);
}

TEST_F(RegistryTest, UnregisterTunnelReleasesEverything) {
  Tunnel* t = add_tunnel(kHashA);
  const Uuid id = t->id;
  auto svc = add(t, tcp("ssh", 22, 30005));
  ASSERT_TRUE(svc.ok());
  ASSERT_TRUE(add(t, tcp("web", 80)).ok());
  EXPECT_EQ(registry.service_count(), 2u);

  auto removed = registry.unregister_tunnel(id);
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(removed->services.size(), 2u);
  EXPECT_EQ(registry.tunnel_count(), 0u);
  EXPECT_EQ(registry.service_count(), 0u);
  EXPECT_EQ(registry.get_tunnel(id), nullptr);
  EXPECT_EQ(registry.get_tunnel_by_token(kHashA), nullptr);
  EXPECT_FALSE(registry.token_exists(kHashA));
  EXPECT_FALSE(registry.get_service_by_port(30005).has_value());
  EXPECT_FALSE(registry.get_service_by_name("ssh").has_value());
  EXPECT_TRUE(registry.is_port_available(30005));
  EXPECT_TRUE(registry.is_port_available(30000));
  EXPECT_EQ(registry.available_ports(), 101u);
  EXPECT_FALSE(registry.unregister_tunnel(id).has_value());  // twice: nothing left
}

TEST_F(RegistryTest, GetTunnelById) {
  Tunnel* t = add_tunnel(kHashA);
  EXPECT_EQ(registry.get_tunnel(t->id), t);
  EXPECT_EQ(registry.get_tunnel(crypto::uuid_v4()), nullptr);
}

TEST_F(RegistryTest, GetTunnelByToken) {
  Tunnel* t = add_tunnel(kHashA);
  EXPECT_EQ(registry.get_tunnel_by_token(kHashA), t);
  EXPECT_EQ(registry.get_tunnel_by_token(kHashB), nullptr);
}

TEST_F(RegistryTest, TokenExists) {
  EXPECT_FALSE(registry.token_exists(kHashA));
  add_tunnel(kHashA);
  EXPECT_TRUE(registry.token_exists(kHashA));
  EXPECT_FALSE(registry.token_exists(kHashB));
}

TEST_F(RegistryTest, AddServiceAutoAssign) {
  Tunnel* t = add_tunnel(kHashA);
  auto svc = add(t, tcp("ssh", 22));
  ASSERT_TRUE(svc.ok()) << error_of(svc);
  EXPECT_EQ(svc->name, "ssh");
  EXPECT_EQ(svc->local_port, 22);
  EXPECT_EQ(svc->remote_port, 0);
  EXPECT_EQ(svc->assigned_port, 30000);
  EXPECT_FALSE(svc->internal);
  EXPECT_EQ(t->service_count(), 1u);
  auto next = add(t, tcp("web", 80));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->assigned_port, 30001);
}

TEST_F(RegistryTest, AddServiceSpecificPort) {
  Tunnel* t = add_tunnel(kHashA);
  auto svc = add(t, tcp("ssh", 22, 30050));
  ASSERT_TRUE(svc.ok()) << error_of(svc);
  EXPECT_EQ(svc->remote_port, 30050);
  EXPECT_EQ(svc->assigned_port, 30050);
  EXPECT_FALSE(registry.is_port_available(30050));
}

TEST_F(RegistryTest, AddServicePortConflict) {
  Tunnel* a = add_tunnel(kHashA);
  Tunnel* b = add_tunnel(kHashB);
  ASSERT_TRUE(add(a, tcp("ssh", 22, 30050)).ok());
  auto clash = add(b, tcp("other", 22, 30050));
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().code, Errc::registry);
  EXPECT_EQ(clash.error().display(), "Registry error: port 30050 is not available");
  // TCP and UDP share one pool.
  ServiceRequest udp = tcp("game", 27015, 30050);
  udp.protocol = proto::ServiceProtocol::udp;
  EXPECT_EQ(error_of(add(b, udp)), "Registry error: port 30050 is not available");
  EXPECT_EQ(b->service_count(), 0u);
}

TEST_F(RegistryTest, AddServiceTunnelNotFound) {
  auto r = registry.add_service(crypto::uuid_v4(), tcp("ssh", 22), crypto::uuid_v4());
  EXPECT_EQ(error_of(r), "Registry error: tunnel not found");
}

TEST_F(RegistryTest, RemoveServiceReleasesPort) {
  Tunnel* t = add_tunnel(kHashA);
  auto svc = add(t, tcp("ssh", 22, 30007));
  ASSERT_TRUE(svc.ok());
  auto removed = registry.remove_service(t->id, svc->id);
  ASSERT_TRUE(removed.ok()) << error_of(removed);
  EXPECT_EQ(removed->name, "ssh");
  EXPECT_EQ(t->service_count(), 0u);
  EXPECT_TRUE(registry.is_port_available(30007));
  EXPECT_FALSE(registry.get_service_by_port(30007).has_value());
  // The name is free again, and so is the port.
  auto again = add(t, tcp("ssh", 22, 30007));
  EXPECT_TRUE(again.ok()) << error_of(again);
}

TEST_F(RegistryTest, RemoveServiceNotFound) {
  Tunnel* t = add_tunnel(kHashA);
  EXPECT_EQ(error_of(registry.remove_service(t->id, crypto::uuid_v4())),
            "Registry error: service not found");
  EXPECT_EQ(error_of(registry.remove_service(crypto::uuid_v4(), crypto::uuid_v4())),
            "Registry error: tunnel not found");
}

TEST_F(RegistryTest, GetServiceByPort) {
  Tunnel* t = add_tunnel(kHashA);
  auto svc = add(t, tcp("ssh", 22, 30042));
  ASSERT_TRUE(svc.ok());
  auto found = registry.get_service_by_port(30042);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->first, t);
  EXPECT_EQ(found->second->id, svc->id);
  EXPECT_EQ(found->second->name, "ssh");
  EXPECT_FALSE(registry.get_service_by_port(30043).has_value());
}

TEST_F(RegistryTest, MultipleTunnelsMultipleServices) {
  Tunnel* a = add_tunnel(kHashA);
  Tunnel* b = add_tunnel(kHashB);
  ASSERT_TRUE(add(a, tcp("a1", 1)).ok());
  ASSERT_TRUE(add(a, tcp("a2", 2)).ok());
  ASSERT_TRUE(add(b, tcp("b1", 3)).ok());
  EXPECT_EQ(registry.tunnel_count(), 2u);
  EXPECT_EQ(registry.service_count(), 3u);
  EXPECT_EQ(a->service_count(), 2u);
  EXPECT_EQ(b->service_count(), 1u);
  EXPECT_EQ(registry.available_ports(), 101u - 3u);
  registry.unregister_tunnel(a->id);
  EXPECT_EQ(registry.service_count(), 1u);
  EXPECT_EQ(registry.available_ports(), 100u);
  ASSERT_TRUE(registry.get_service_by_name("b1").has_value());
}

TEST_F(RegistryTest, ListTunnels) {
  Tunnel* a = add_tunnel(kHashA, "10.0.0.1:1");
  Tunnel* b = add_tunnel(kHashB, "10.0.0.2:2");
  ASSERT_TRUE(add(b, tcp("svc", 1)).ok());
  auto list = registry.list_tunnels();
  ASSERT_EQ(list.size(), 2u);
  for (const auto& info : list) {
    if (info.id == a->id) {
      EXPECT_EQ(info.client_addr, "10.0.0.1:1");
      EXPECT_EQ(info.service_count, 0u);
    } else {
      EXPECT_EQ(info.id, b->id);
      EXPECT_EQ(info.client_addr, "10.0.0.2:2");
      EXPECT_EQ(info.service_count, 1u);
    }
  }
}

TEST_F(RegistryTest, TouchAndActivityTracking) {
  Tunnel* t = add_tunnel(kHashA);
  t->last_activity -= 5s;
  const auto before = t->last_activity;
  registry.touch_tunnel(t->id);
  EXPECT_GE(t->last_activity - before, 5s);
  registry.touch_tunnel(crypto::uuid_v4());  // unknown: nothing happens
}

TEST_F(RegistryTest, StaleTunnels) {
  Tunnel* a = add_tunnel(kHashA);
  Tunnel* b = add_tunnel(kHashB);
  EXPECT_TRUE(registry.stale_tunnels(1h).empty());
  a->last_activity -= 2h;
  auto stale = registry.stale_tunnels(1h);
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0], a->id);
  registry.touch_tunnel(a->id);
  EXPECT_TRUE(registry.stale_tunnels(1h).empty());
  (void)b;
}

TEST(PortPoolTest, AllocationLowestFirstAndReuse) {
  TunnelRegistry registry({30000, 30002});
  auto t = registry.register_tunnel(kHashA, std::nullopt, "", crypto::uuid_v4());
  ASSERT_TRUE(t.ok());
  std::vector<Uuid> ids;
  for (std::uint16_t expect : {30000, 30001, 30002}) {
    const Uuid sid = crypto::uuid_v4();
    auto s = registry.add_service((*t)->id, tcp("s" + std::to_string(expect), 1), sid);
    ASSERT_TRUE(s.ok()) << error_of(s);
    EXPECT_EQ(s->assigned_port, expect);
    ids.push_back(sid);
  }
  auto full = registry.add_service((*t)->id, tcp("s4", 1), crypto::uuid_v4());
  EXPECT_EQ(error_of(full), "Registry error: no ports available");
  ASSERT_TRUE(registry.remove_service((*t)->id, ids[1]).ok());
  auto reused = registry.add_service((*t)->id, tcp("s5", 1), crypto::uuid_v4());
  ASSERT_TRUE(reused.ok());
  EXPECT_EQ(reused->assigned_port, 30001);
}

TEST_F(RegistryTest, PortOutOfRange) {
  Tunnel* t = add_tunnel(kHashA);
  EXPECT_EQ(error_of(add(t, tcp("low", 1, 25000))), "Registry error: port 25000 is not available");
  EXPECT_EQ(error_of(add(t, tcp("high", 1, 30101))), "Registry error: port 30101 is not available");
  EXPECT_EQ(t->service_count(), 0u);
  EXPECT_EQ(registry.available_ports(), 101u);
}

TEST(PortPoolTest, AvailablePortsCount) {
  TunnelRegistry registry({30000, 30009});
  auto t = registry.register_tunnel(kHashA, std::nullopt, "", crypto::uuid_v4());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(registry.available_ports(), 10u);
  ASSERT_TRUE(registry.add_service((*t)->id, tcp("a", 1), crypto::uuid_v4()).ok());
  EXPECT_EQ(registry.available_ports(), 9u);
  ASSERT_TRUE(registry.add_service((*t)->id, tcp("b", 1, 30009), crypto::uuid_v4()).ok());
  EXPECT_EQ(registry.available_ports(), 8u);
}

TEST(PortPoolTest, IsPortAvailableAtTheEdges) {
  TunnelRegistry registry({30000, 30010});
  EXPECT_FALSE(registry.is_port_available(29999));
  EXPECT_TRUE(registry.is_port_available(30000));
  EXPECT_TRUE(registry.is_port_available(30010));
  EXPECT_FALSE(registry.is_port_available(30011));
  EXPECT_FALSE(registry.is_port_available(0));
}

TEST_F(RegistryTest, ServiceConnectionCount) {
  Tunnel* t = add_tunnel(kHashA);
  auto svc = add(t, tcp("ssh", 22));
  ASSERT_TRUE(svc.ok());
  EXPECT_EQ(svc->connection_count(), 0u);
  svc->counters->streams_active += 2;
  EXPECT_EQ(svc->connection_count(), 2u);
  svc->counters->streams_active -= 1;
  EXPECT_EQ(svc->connection_count(), 1u);
}

// The original's Clone snapshotted the counter into a new, independent atomic, so the copy the
// registry handed out never saw later connections. Here the copy and the registry's entry share
// one set of counters.
TEST_F(RegistryTest, ServiceCopiesShareCounters) {
  Tunnel* t = add_tunnel(kHashA);
  auto svc = add(t, tcp("ssh", 22));
  ASSERT_TRUE(svc.ok());
  TunnelService& stored = t->services.at(svc->id);
  stored.counters->streams_active = 3;
  stored.counters->bytes_in = 1234;
  EXPECT_EQ(svc->connection_count(), 3u);
  EXPECT_EQ(svc->counters->bytes_in, 1234u);
  TunnelService copy = stored;
  copy.counters->streams_active = 4;
  EXPECT_EQ(stored.connection_count(), 4u);
  EXPECT_EQ(copy.to_json()["connections"], 4);
}

TEST_F(RegistryTest, TunnelIsIdleFor) {
  Tunnel* t = add_tunnel(kHashA);
  EXPECT_FALSE(t->is_idle_for(1h));
  t->last_activity -= 2h;
  EXPECT_TRUE(t->is_idle_for(1h));
  EXPECT_FALSE(t->is_idle_for(3h));
}

TEST_F(RegistryTest, TunnelInfoSnapshot) {
  auto t =
      registry.register_tunnel(kHashA, std::string("branch"), "192.0.2.1:7", crypto::uuid_v4());
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(add(*t, tcp("a", 1)).ok());
  ASSERT_TRUE(add(*t, tcp("b", 2)).ok());
  auto list = registry.list_tunnels();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, (*t)->id);
  EXPECT_EQ(list[0].name, "branch");
  EXPECT_EQ(list[0].client_addr, "192.0.2.1:7");
  EXPECT_EQ(list[0].service_count, 2u);
  EXPECT_EQ(list[0].connected_at, (*t)->connected_at);
  EXPECT_EQ(list[0].last_activity, (*t)->last_activity);
}

TEST(PortPoolTest, DefaultRegistryHas1001Ports) {
  TunnelRegistry registry;
  EXPECT_EQ(registry.available_ports(), 1001u);
  EXPECT_TRUE(registry.is_port_available(30000));
  EXPECT_TRUE(registry.is_port_available(31000));
  EXPECT_FALSE(registry.is_port_available(31001));
}

// ---- in place of the original's control-channel tests: kernel-assigned ports ----

TEST(PortPoolTest, FullRangeCountsWithoutOverflow) {
  PortPool pool({1, 65535});
  EXPECT_EQ(pool.available_count(), 65535u);
  EXPECT_TRUE(pool.allocate_specific(65535));
  EXPECT_FALSE(pool.allocate_specific(65535));
  EXPECT_EQ(pool.allocate(), 1);
  EXPECT_EQ(pool.available_count(), 65533u);
  pool.release(65535);
  EXPECT_TRUE(pool.is_available(65535));
}

TEST(PortPoolTest, KernelAssignedMode) {
  PortPool pool({0, 0});
  EXPECT_TRUE(pool.kernel_assigned());
  EXPECT_FALSE(pool.allocate().has_value());  // the kernel chooses when the socket binds
  EXPECT_TRUE(pool.is_available(40000));
  EXPECT_TRUE(pool.allocate_specific(40000));
  EXPECT_FALSE(pool.is_available(40000));
  EXPECT_FALSE(pool.is_available(0));
  EXPECT_EQ(pool.available_count(), 65534u);
}

TEST(KernelAssignedRegistryTest, PortIsSetOnceBound) {
  TunnelRegistry registry({0, 0});
  auto t = registry.register_tunnel(kHashA, std::nullopt, "", crypto::uuid_v4());
  ASSERT_TRUE(t.ok());
  const Uuid sid = crypto::uuid_v4();
  auto svc = registry.add_service((*t)->id, tcp("web", 80), sid);
  ASSERT_TRUE(svc.ok()) << error_of(svc);
  EXPECT_FALSE(svc->assigned_port.has_value());
  EXPECT_FALSE(registry.get_service_by_port(45678).has_value());
  ASSERT_TRUE(registry.set_assigned_port((*t)->id, sid, 45678).ok());
  auto found = registry.get_service_by_port(45678);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->second->id, sid);
  EXPECT_EQ(found->second->assigned_port, 45678);
  // Another service cannot ask for it any more; removing the service frees it.
  auto clash = registry.add_service((*t)->id, tcp("web2", 80, 45678), crypto::uuid_v4());
  EXPECT_EQ(error_of(clash), "Registry error: port 45678 is not available");
  ASSERT_TRUE(registry.remove_service((*t)->id, sid).ok());
  EXPECT_TRUE(registry.is_port_available(45678));
  EXPECT_EQ(error_of(registry.set_assigned_port((*t)->id, sid, 45679)),
            "Registry error: service not found");
}

TEST(KernelAssignedRegistryTest, TokenPortRangeIsHonoured) {
  TunnelRegistry registry({0, 0});
  auto t = registry.register_tunnel(kHashA, std::nullopt, "", crypto::uuid_v4());
  ASSERT_TRUE(t.ok());
  ServiceRequest req = tcp("web", 80);
  req.allowed_ports = config::PortRange{40000, 40001};
  auto first = registry.add_service((*t)->id, req, crypto::uuid_v4());
  ASSERT_TRUE(first.ok()) << error_of(first);
  EXPECT_EQ(first->assigned_port, 40000);
  req.name = "web2";
  auto second = registry.add_service((*t)->id, req, crypto::uuid_v4());
  ASSERT_TRUE(second.ok()) << error_of(second);
  EXPECT_EQ(second->assigned_port, 40001);
  req.name = "web3";
  EXPECT_EQ(error_of(registry.add_service((*t)->id, req, crypto::uuid_v4())),
            "Registry error: no ports available");
  req.remote_port = 40002;
  EXPECT_EQ(error_of(registry.add_service((*t)->id, req, crypto::uuid_v4())),
            "Registry error: port 40002 is not available");
}

// ---- the limits and checks the original lacked ----

TEST(RegistryLimitsTest, MaxServicesPerTunnel) {
  TunnelRegistry registry({30000, 30100}, 2);
  auto t = registry.register_tunnel(kHashA, std::nullopt, "", crypto::uuid_v4());
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(registry.add_service((*t)->id, tcp("a", 1), crypto::uuid_v4()).ok());
  ASSERT_TRUE(registry.add_service((*t)->id, tcp("b", 1), crypto::uuid_v4()).ok());
  EXPECT_EQ(error_of(registry.add_service((*t)->id, tcp("c", 1), crypto::uuid_v4())),
            "Registry error: too many services (max 2)");
  EXPECT_EQ(registry.available_ports(), 99u);  // the refused one took no port
}

TEST_F(RegistryTest, InvalidServiceNames) {
  Tunnel* t = add_tunnel(kHashA);
  for (std::string bad : {std::string(""), std::string("has space"), std::string("dot.ted"),
                          std::string("sl/ash"), std::string(256, 'x')}) {
    auto r = add(t, tcp(bad, 1));
    EXPECT_EQ(error_of(r), "Registry error: invalid service name '" + bad +
                               "': use 1-255 bytes of letters, digits, '-' and '_'");
  }
  for (std::string good : {"ssh", "my-service", "my_service", "service123", "SSH"})
    EXPECT_TRUE(add(t, tcp(good, 1)).ok()) << good;
  EXPECT_TRUE(add(t, tcp(std::string(255, 'y'), 1)).ok());
  EXPECT_EQ(registry.available_ports(), 101u - 6u);
}

TEST_F(RegistryTest, DuplicateServiceName) {
  Tunnel* a = add_tunnel(kHashA);
  Tunnel* b = add_tunnel(kHashB);
  ASSERT_TRUE(add(a, tcp("db", 5432)).ok());
  EXPECT_EQ(error_of(add(a, tcp("db", 5433))),
            "Registry error: service name 'db' is already registered");
  // Names are global: service:NAME targets must be unambiguous.
  EXPECT_EQ(error_of(add(b, tcp("db", 5432))), "service name 'db' is held by another token");
  EXPECT_EQ(registry.available_ports(), 100u);
}

TEST_F(RegistryTest, InternalServiceTakesNoPort) {
  Tunnel* t = add_tunnel(kHashA);
  ServiceRequest req = tcp("api", 8080);
  req.internal = true;
  auto svc = add(t, req);
  ASSERT_TRUE(svc.ok()) << error_of(svc);
  EXPECT_TRUE(svc->internal);
  EXPECT_FALSE(svc->assigned_port.has_value());
  EXPECT_EQ(registry.available_ports(), 101u);
  auto by_name = registry.get_service_by_name("api");
  ASSERT_TRUE(by_name.has_value());
  EXPECT_EQ(by_name->second->id, svc->id);
  ASSERT_TRUE(registry.remove_service(t->id, svc->id).ok());
  EXPECT_FALSE(registry.get_service_by_name("api").has_value());
}

TEST_F(RegistryTest, TokenPortRangeInsideThePool) {
  Tunnel* t = add_tunnel(kHashA);
  ServiceRequest req = tcp("a", 1);
  req.allowed_ports = config::PortRange{30050, 30051};
  auto first = add(t, req);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->assigned_port, 30050);
  req.name = "b";
  req.remote_port = 30000;  // in the pool, outside the token's range
  EXPECT_EQ(error_of(add(t, req)), "Registry error: port 30000 is not available");
  req.remote_port = 30051;
  auto second = add(t, req);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->assigned_port, 30051);
  req.name = "c";
  req.remote_port = 0;
  EXPECT_EQ(error_of(add(t, req)), "Registry error: no ports available");
}

TEST_F(RegistryTest, ReRegisterAfterUnregisterGetsTheToken) {
  Tunnel* t = add_tunnel(kHashA);
  const Uuid old = t->id;
  registry.unregister_tunnel(old);
  Tunnel* again = add_tunnel(kHashA);
  ASSERT_NE(again, nullptr);
  EXPECT_NE(again->id, old);
  EXPECT_EQ(registry.get_tunnel_by_token(kHashA), again);
}

}  // namespace
}  // namespace zlt
