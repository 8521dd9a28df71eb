/**
 * Prometheus v3.5.0 (an LTS release) and Grafana 12.2.0 for the local stack's monitoring,
 * pinned by index digest. The digests are the ones these tags publish on Docker Hub, as pinned
 * in several public repositories' compose files (Docker Hub itself is not reachable from the
 * machine this was written on). Overridable in stack config by another digest-pinned reference.
 */
export const PROMETHEUS_IMAGE = "prom/prometheus:v3.5.0@sha256:63805ebb8d2b3920190daf1cb14a60871b16fd38bed42b857a3182bc621f4996";
export const GRAFANA_IMAGE = "grafana/grafana:12.2.0@sha256:74144189b38447facf737dfd0f3906e42e0776212bf575dc3334c3609183adf7";
