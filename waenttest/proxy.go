package waenttest

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
)

// Proxy is a forward proxy on loopback for testing proxy configuration:
// an HTTP CONNECT proxy (as https_proxy names) or a SOCKS5 proxy (as
// socks5:// URLs name), optionally requiring a username and password.
type Proxy struct {
	l       net.Listener
	url     *url.URL
	user    string
	pass    string
	socks   bool
	tunnels atomic.Int64
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
}

// NewHTTPProxy starts an HTTP CONNECT proxy. With a non-empty user it
// requires Proxy-Authorization: Basic and answers 407 otherwise.
func NewHTTPProxy(user, pass string) (*Proxy, error) { return startProxy(false, user, pass) }

// NewSOCKS5Proxy starts a SOCKS5 proxy (CONNECT only). With a non-empty
// user it requires username/password authentication (RFC 1929).
func NewSOCKS5Proxy(user, pass string) (*Proxy, error) { return startProxy(true, user, pass) }

func startProxy(socks bool, user, pass string) (*Proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{l: l, user: user, pass: pass, socks: socks, conns: map[net.Conn]struct{}{}}
	p.url = &url.URL{Scheme: "http", Host: l.Addr().String()}
	if socks {
		p.url.Scheme = "socks5"
	}
	if user != "" {
		p.url.User = url.UserPassword(user, pass)
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// URL is the proxy's address, with the credentials if any, ready for
// https_proxy or a conn.Dialer's Proxy.
func (p *Proxy) URL() *url.URL { u := *p.url; return &u }

// Tunnels counts the connections the proxy has opened to a target.
func (p *Proxy) Tunnels() int { return int(p.tunnels.Load()) }

// Close stops the proxy and cuts its tunnels.
func (p *Proxy) Close() error {
	err := p.l.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			var target net.Conn
			var br *bufio.Reader
			if p.socks {
				target, br, err = p.socksHandshake(c)
			} else {
				target, br, err = p.connectHandshake(c)
			}
			if err != nil {
				return
			}
			if !p.track(target) {
				target.Close()
				return
			}
			p.tunnels.Add(1)
			splice(c, br, target)
		}()
	}
}

// connectHandshake reads a CONNECT request and dials its target.
func (p *Proxy) connectHandshake(c net.Conn) (net.Conn, *bufio.Reader, error) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, nil, err
	}
	if req.Method != http.MethodConnect {
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
		return nil, nil, errors.New("not CONNECT")
	}
	if p.user != "" {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.pass))
		if req.Header.Get("Proxy-Authorization") != want {
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"waenttest\"\r\n\r\n")
			return nil, nil, errors.New("bad proxy credentials")
		}
	}
	target, err := net.Dial("tcp", req.Host)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return nil, nil, err
	}
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	return target, br, nil
}

// socksHandshake speaks the server side of RFC 1928 (and 1929 for
// credentials), CONNECT only.
func (p *Proxy) socksHandshake(c net.Conn) (net.Conn, *bufio.Reader, error) {
	br := bufio.NewReader(c)
	head := make([]byte, 2)
	if _, err := io.ReadFull(br, head); err != nil || head[0] != 5 {
		return nil, nil, errors.New("not SOCKS5")
	}
	methods := make([]byte, head[1])
	if _, err := io.ReadFull(br, methods); err != nil {
		return nil, nil, err
	}
	want := byte(0) // no authentication
	if p.user != "" {
		want = 2 // username/password
	}
	offered := false
	for _, m := range methods {
		offered = offered || m == want
	}
	if !offered {
		c.Write([]byte{5, 0xFF})
		return nil, nil, errors.New("no acceptable method")
	}
	c.Write([]byte{5, want})
	if want == 2 {
		ver := make([]byte, 2)
		if _, err := io.ReadFull(br, ver); err != nil || ver[0] != 1 {
			return nil, nil, errors.New("bad auth version")
		}
		user := make([]byte, ver[1])
		io.ReadFull(br, user)
		plen, _ := br.ReadByte()
		pass := make([]byte, plen)
		if _, err := io.ReadFull(br, pass); err != nil {
			return nil, nil, err
		}
		if string(user) != p.user || string(pass) != p.pass {
			c.Write([]byte{1, 1})
			return nil, nil, errors.New("bad credentials")
		}
		c.Write([]byte{1, 0})
	}
	req := make([]byte, 4)
	if _, err := io.ReadFull(br, req); err != nil || req[0] != 5 || req[1] != 1 {
		c.Write([]byte{5, 7, 0, 1, 0, 0, 0, 0, 0, 0}) // command not supported
		return nil, nil, errors.New("not a CONNECT request")
	}
	var host string
	switch req[3] {
	case 1:
		ip := make([]byte, 4)
		if _, err := io.ReadFull(br, ip); err != nil {
			return nil, nil, err
		}
		host = net.IP(ip).String()
	case 3:
		n, _ := br.ReadByte()
		name := make([]byte, n)
		if _, err := io.ReadFull(br, name); err != nil {
			return nil, nil, err
		}
		host = string(name)
	case 4:
		ip := make([]byte, 16)
		if _, err := io.ReadFull(br, ip); err != nil {
			return nil, nil, err
		}
		host = net.IP(ip).String()
	default:
		return nil, nil, errors.New("bad address type")
	}
	portb := make([]byte, 2)
	if _, err := io.ReadFull(br, portb); err != nil {
		return nil, nil, err
	}
	target, err := net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(portb)))))
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}) // connection refused
		return nil, nil, err
	}
	c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0})
	return target, br, nil
}

// splice copies both ways until either side closes.
func splice(client net.Conn, fromClient *bufio.Reader, target net.Conn) {
	defer target.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(client, target)
		client.Close()
		close(done)
	}()
	io.Copy(target, fromClient)
	target.Close()
	<-done
}
