// Package clientip is a Traefik middleware plugin (interpreted by Traefik's Yaegi, standard
// library only) that leaves in X-Forwarded-For only the address the load balancer saw.
//
// The AWS load balancer appends the client's address to whatever X-Forwarded-For the client
// sent (routing.http.xff_header_processing.mode "append", its default:
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html),
// so only the right-most entry is its own. Authelia 4.39 takes the LEFT-most entry as the
// client (authelia/authelia internal/middlewares/wrap.go RequestCtxRemoteIP) and has no list
// of trusted proxies; Traefik's forwardAuth passes the header on as it is
// (traefik/traefik pkg/middlewares/auth/forward.go writeHeader). Keeping the right-most
// trusted hop here makes the left-most the one the load balancer saw.
package clientip

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Config of the middleware.
type Config struct {
	// Depth counts hops from the right: 1 is the address the load balancer appended.
	Depth int `json:"depth,omitempty"`
}

// CreateConfig is the default configuration.
func CreateConfig() *Config {
	return &Config{Depth: 1}
}

// ClientIP rewrites X-Forwarded-For to one trusted address, or removes it.
type ClientIP struct {
	next  http.Handler
	name  string
	depth int
}

// New builds the middleware.
func New(_ context.Context, next http.Handler, config *Config, name string) (http.Handler, error) {
	if config.Depth < 1 {
		return nil, fmt.Errorf("clientip %s: depth must be 1 or more, got %d", name, config.Depth)
	}
	return &ClientIP{next: next, name: name, depth: config.Depth}, nil
}

func (c *ClientIP) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	var hops []string
	for _, value := range req.Header.Values("X-Forwarded-For") {
		for _, part := range strings.Split(value, ",") {
			if part = strings.TrimSpace(part); part != "" {
				hops = append(hops, part)
			}
		}
	}
	req.Header.Del("X-Forwarded-For")
	// No trusted hop (a peer Traefik does not trust sent none it kept): leave the header out,
	// so the next hop records the real peer address, never a client's word.
	if len(hops) >= c.depth {
		if ip := net.ParseIP(hops[len(hops)-c.depth]); ip != nil {
			req.Header.Set("X-Forwarded-For", ip.String())
		}
	}
	c.next.ServeHTTP(rw, req)
}
