//! Turns `listeners`, `advertised.listeners`, the security protocol map and
//! the listener-name settings into checked [`Listener`]s, with Kafka's rules:
//! unique names, no shared ports, advertised names a subset of the bound
//! ones, no advertised wildcard address.

use std::fmt;
use std::net::IpAddr;

use gregor_metadata::configs::{self, Endpoint, SecurityProtocol};

use super::ConfigError;
use super::Resolver;

/// One address the broker listens on or advertises. Built at start-up and
/// read-only afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Listener {
    /// Listener name, upper case (`PLAINTEXT`, `INTERNAL`, ...).
    pub name: String,
    /// Host or IP without IPv6 brackets; empty means every interface.
    pub host: String,
    pub port: u16,
    pub security_protocol: SecurityProtocol,
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.name, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.name, self.host, self.port)
        }
    }
}

/// The resolved listener settings.
pub struct Listeners {
    pub listeners: Vec<Listener>,
    pub advertised: Vec<Listener>,
    pub controller_names: Vec<String>,
    pub inter_broker_name: String,
}

pub fn resolve(r: &Resolver, roles: &[String]) -> Result<Listeners, ConfigError> {
    let controller_names: Vec<String> =
        configs::parse_list(&r.value("controller.listener.names").unwrap_or_default())
            .into_iter()
            .filter(|n| !n.is_empty())
            .map(str::to_ascii_uppercase)
            .collect();
    let endpoints = r.parsed("listeners", configs::parse_endpoints)?;
    let map = protocol_map(r, &endpoints, &controller_names)?;
    let protocol_of = |key: &str, e: &Endpoint| -> Result<Listener, ConfigError> {
        let protocol = map.iter().find(|(n, _)| *n == e.listener).map(|(_, p)| *p).ok_or_else(|| {
            r.invalid(
                key,
                format!(
                    "No security protocol defined for listener {}; add it to listener.security.protocol.map",
                    e.listener
                ),
            )
        })?;
        Ok(Listener {
            name: e.listener.clone(),
            host: e.host.clone(),
            port: e.port,
            security_protocol: protocol,
        })
    };

    if endpoints.is_empty() {
        return Err(r.invalid("listeners", "at least one listener is required".to_string()));
    }
    let listeners = endpoints
        .iter()
        .map(|e| protocol_of("listeners", e))
        .collect::<Result<Vec<_>, _>>()?;
    check_unique(r, "listeners", &listeners)?;
    check_ports(r, &listeners)?;

    check_controller_names(r, roles, &listeners, &controller_names)?;

    let advertised: Vec<Listener> = match r.explicit("advertised.listeners") {
        Some(value) => {
            let endpoints = configs::parse_endpoints(value)
                .map_err(|reason| r.invalid("advertised.listeners", reason))?;
            let advertised = endpoints
                .iter()
                .map(|e| protocol_of("advertised.listeners", e))
                .collect::<Result<Vec<_>, _>>()?;
            check_advertised(r, &listeners, &advertised)?;
            advertised.into_iter().map(advertise).collect()
        }
        // Controller listeners are for the quorum, not for clients.
        None => listeners
            .iter()
            .filter(|l| !controller_names.contains(&l.name))
            .cloned()
            .map(advertise)
            .collect(),
    };

    let inter_broker_name = inter_broker_listener(r, roles, &advertised, &controller_names)?;
    Ok(Listeners {
        listeners,
        advertised,
        controller_names,
        inter_broker_name,
    })
}

/// The listener security protocol map. Like Kafka, when the map is left at
/// its default and no listener is named after SSL or SASL, controller
/// listeners are taken to be PLAINTEXT, so `CONTROLLER://:9093` works
/// without spelling out a map.
fn protocol_map(
    r: &Resolver,
    endpoints: &[Endpoint],
    controller_names: &[String],
) -> Result<Vec<(String, SecurityProtocol)>, ConfigError> {
    let mut map = r.parsed(
        "listener.security.protocol.map",
        configs::parse_protocol_map,
    )?;
    if r.explicit("listener.security.protocol.map").is_some() {
        return Ok(map);
    }
    let secured = |name: &str| matches!(name, "SSL" | "SASL_SSL" | "SASL_PLAINTEXT");
    if controller_names.iter().any(|n| secured(n)) || endpoints.iter().any(|e| secured(&e.listener))
    {
        return Ok(map);
    }
    for name in controller_names {
        if !map.iter().any(|(n, _)| n == name) {
            map.push((name.clone(), SecurityProtocol::Plaintext));
        }
    }
    Ok(map)
}

/// Replaces a wildcard bind address with loopback, so that the first run on
/// a laptop advertises an address clients can actually reach.
fn advertise(mut l: Listener) -> Listener {
    match l.host.as_str() {
        "" | "0.0.0.0" => l.host = "127.0.0.1".to_string(),
        "::" => l.host = "::1".to_string(),
        _ => {}
    }
    l
}

fn check_unique(r: &Resolver, key: &str, listeners: &[Listener]) -> Result<(), ConfigError> {
    for (i, l) in listeners.iter().enumerate() {
        if listeners[..i].iter().any(|o| o.name == l.name) {
            return Err(r.invalid(
                key,
                format!(
                    "each listener must have a different name, but {} appears twice",
                    l.name
                ),
            ));
        }
    }
    Ok(())
}

/// Two listeners may share a port only when one binds an IPv4 and the other
/// an IPv6 address, as in Kafka. Port 0 asks the OS for a free port, so it
/// never clashes.
fn check_ports(r: &Resolver, listeners: &[Listener]) -> Result<(), ConfigError> {
    let family = |host: &str| host.parse::<IpAddr>().ok().map(|ip| ip.is_ipv4());
    for (i, l) in listeners.iter().enumerate() {
        for o in &listeners[..i] {
            let split_families =
                matches!((family(&l.host), family(&o.host)), (Some(a), Some(b)) if a != b);
            if l.port != 0 && l.port == o.port && !split_families {
                return Err(r.invalid(
                    "listeners",
                    format!(
                        "listeners {} and {} use the same port {}",
                        o.name, l.name, l.port
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_advertised(
    r: &Resolver,
    listeners: &[Listener],
    advertised: &[Listener],
) -> Result<(), ConfigError> {
    check_unique(r, "advertised.listeners", advertised)?;
    for a in advertised {
        // An explicit wildcard is a mistake clients cannot recover from;
        // only an empty host is taken to mean "this machine".
        if a.host == "0.0.0.0" || a.host == "::" {
            return Err(r.invalid(
                "advertised.listeners",
                format!(
                    "{} cannot advertise the non-routable address {}; use a routable host or IP",
                    a.name, a.host
                ),
            ));
        }
        if !listeners.iter().any(|l| l.name == a.name) {
            return Err(r.invalid(
                "advertised.listeners",
                format!("listener {} is not one of the names in listeners", a.name),
            ));
        }
    }
    Ok(())
}

fn check_controller_names(
    r: &Resolver,
    roles: &[String],
    listeners: &[Listener],
    names: &[String],
) -> Result<(), ConfigError> {
    let is_controller = roles.iter().any(|role| role == "controller");
    let is_broker = roles.iter().any(|role| role == "broker");
    for name in names {
        let bound = listeners.iter().any(|l| l.name == *name);
        if is_controller && !bound {
            return Err(r.invalid(
                "controller.listener.names",
                format!("{name} must also appear in listeners on a node with the controller role"),
            ));
        }
        if is_broker && !is_controller && bound {
            return Err(r.invalid(
                "controller.listener.names",
                format!("{name} must not appear in listeners on a broker-only node"),
            ));
        }
    }
    Ok(())
}

/// `inter.broker.listener.name`, or else the listener named after
/// `security.inter.broker.protocol`; setting both is an error in Kafka.
fn inter_broker_listener(
    r: &Resolver,
    roles: &[String],
    advertised: &[Listener],
    controller_names: &[String],
) -> Result<String, ConfigError> {
    const NAME_KEY: &str = "inter.broker.listener.name";
    const PROTOCOL_KEY: &str = "security.inter.broker.protocol";
    let (key, name) = match (r.explicit(NAME_KEY), r.explicit(PROTOCOL_KEY)) {
        (Some(_), Some(_)) => {
            return Err(r.invalid(
                NAME_KEY,
                format!("only one of {NAME_KEY} and {PROTOCOL_KEY} may be set"),
            ));
        }
        (Some(name), None) => (NAME_KEY, name.trim().to_ascii_uppercase()),
        (None, _) => (
            PROTOCOL_KEY,
            r.value(PROTOCOL_KEY)
                .unwrap_or_default()
                .trim()
                .to_ascii_uppercase(),
        ),
    };
    if controller_names.contains(&name) {
        return Err(r.invalid(
            key,
            format!("{name} is a controller listener and cannot carry broker traffic"),
        ));
    }
    let is_broker = roles.iter().any(|role| role == "broker");
    if is_broker && !advertised.iter().any(|l| l.name == name) {
        let options: Vec<&str> = advertised.iter().map(|l| l.name.as_str()).collect();
        return Err(r.invalid(
            key,
            format!(
                "the inter-broker listener {name} must be one of the advertised listeners ({}); set {NAME_KEY}",
                options.join(", ")
            ),
        ));
    }
    Ok(name)
}
