// Command embed is a shop service that hosts waent inside itself: its own
// HTTP mux and its own database pool, with the WhatsApp coreapp and the
// /v1 API mounted beside the shop's routes.
//
// The shop keeps its orders in its own table, in the same database as
// waent's tables (all named waent_*), through its own connection pool.
// Shipping an order sends the customer a WhatsApp message from Go; a
// customer who answers STOP is opted out, learnt from the callbacks,
// which waent hands to a Go function instead of a webhook URL.
//
// Run it (on the simulated network, so it needs no WhatsApp account):
//
//	go run ./examples/embed
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/waent/waent"
	"github.com/waent/waent/content"
	"github.com/waent/waent/httpapi"
	"github.com/waent/waent/store/sqlstore"
	"github.com/waent/waent/waenttest"
	"github.com/waent/waent/webhook"
)

// Shop is the service: its database pool, the WhatsApp client, and the
// mux serving both.
type Shop struct {
	db  *sql.DB
	st  *sqlstore.Store
	wa  *waent.Client
	mux *http.ServeMux
}

// Config is what the shop needs to reach WhatsApp. In production the
// dialer, root key and registration URL name Meta's servers; tests and
// the demo pass a waenttest network's.
type Config struct {
	DBFile string // the SQLite file both pools open
	WA     waent.Config
}

// NewShop opens the shop's pool and waent's store on the same database,
// starts the client and builds the mux.
func NewShop(ctx context.Context, cfg Config) (*Shop, error) {
	// The shop's own pool, as it had before WhatsApp came along.
	db, err := sql.Open(sqliteshim.ShimName, "file:"+cfg.DBFile+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS shop_orders (
		id INTEGER PRIMARY KEY, phone TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'new')`); err != nil {
		db.Close()
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS shop_optouts (phone TEXT PRIMARY KEY)`); err != nil {
		db.Close()
		return nil, err
	}
	// waent's store: a pool of its own on the same file (sqlstore opens
	// its pools from a DSN; its tables are all prefixed waent_).
	st, err := sqlstore.Open(ctx, sqlstore.Config{DSN: "sqlite:" + cfg.DBFile})
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Shop{db: db, st: st}
	wcfg := cfg.WA
	wcfg.Store = st
	wcfg.Webhook = webhook.FuncSink(s.onCallback)
	if s.wa, err = waent.New(wcfg); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.wa.Start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	api, err := httpapi.New(s.wa, httpapi.Options{Logger: wcfg.Logger})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /orders", s.createOrder)
	s.mux.HandleFunc("POST /orders/{id}/ship", s.shipOrder)
	// The standard /v1 API for existing On-Premises integrations, under
	// /whatsapp: StripPrefix hands it paths starting at /v1.
	s.mux.Handle("/whatsapp/", http.StripPrefix("/whatsapp", api))
	return s, nil
}

// Client is the embedded WhatsApp client.
func (s *Shop) Client() *waent.Client { return s.wa }

// ServeHTTP serves the shop's routes and the mounted API.
func (s *Shop) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops the client first, so that everything it accepted is
// committed, then closes both pools.
func (s *Shop) Close() error {
	var errs []error
	if s.wa != nil {
		errs = append(errs, s.wa.Close())
	}
	if s.st != nil {
		errs = append(errs, s.st.Close())
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

func (s *Shop) createOrder(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Phone string `json:"phone"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Phone == "" {
		http.Error(w, `want {"phone": "..."}`, http.StatusBadRequest)
		return
	}
	res, err := s.db.ExecContext(r.Context(), `INSERT INTO shop_orders (phone) VALUES (?)`, body.Phone)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	id, _ := res.LastInsertId()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]int64{"id": id})
}

// shipOrder marks the order shipped and tells the customer, unless they
// opted out. The message is durable once Send returns: if the process
// dies now, it goes out after the restart.
func (s *Shop) shipOrder(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	var phone string
	if err := s.db.QueryRowContext(ctx, `SELECT phone FROM shop_orders WHERE id = ?`, id).Scan(&phone); err != nil {
		http.Error(w, "no such order", http.StatusNotFound)
		return
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE shop_orders SET status = 'shipped' WHERE id = ?`, id); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var optedOut int
	s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM shop_optouts WHERE phone = ?`, phone).Scan(&optedOut)
	out := map[string]string{"status": "shipped"}
	if optedOut == 0 {
		msgID, err := s.wa.Send(ctx, &content.Outgoing{To: phone, Type: "text",
			Text: &content.Text{Body: fmt.Sprintf("Order %s has shipped", id)}})
		var we *waent.Error
		if errors.As(err, &we) {
			// On-Premises codes: 1011 not ready yet, 1013 not a WhatsApp
			// user, ... The order is shipped either way.
			out["whatsapp_error"] = we.Error()
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out["message_id"] = msgID
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// onCallback receives the On-Premises webhook bodies in-process. An error
// makes waent retry the body later, so this must be idempotent: the
// INSERT OR IGNORE is.
func (s *Shop) onCallback(ctx context.Context, body []byte) error {
	var cb struct {
		Messages []struct {
			From string `json:"from"`
			Type string `json:"type"`
			Text struct {
				Body string `json:"body"`
			} `json:"text"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &cb); err != nil {
		return nil // not for us (nothing to retry)
	}
	for _, m := range cb.Messages {
		if m.Type == "text" && strings.EqualFold(strings.TrimSpace(m.Text.Body), "STOP") {
			if _, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO shop_optouts (phone) VALUES (?)`, m.From); err != nil {
				return err
			}
		}
	}
	return nil
}

// OptedOut reports whether phone answered STOP.
func (s *Shop) OptedOut(ctx context.Context, phone string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM shop_optouts WHERE phone = ?`, phone).Scan(&n)
	return n > 0, err
}

// main runs the shop on a simulated network with one registered number.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	simNet, err := waenttest.NewNetwork(waenttest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer simNet.Close()
	dir, err := os.MkdirTemp("", "waent-shop-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	shop, err := NewShop(ctx, Config{DBFile: filepath.Join(dir, "shop.db"), WA: waent.Config{
		Dialer: simNet.Dialer(), ChatRootKey: simNet.RootKey(), RegistrationURL: simNet.RegistrationURL(),
		Logger: slog.New(slog.DiscardHandler),
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer shop.Close()
	if err := Register(ctx, shop.Client(), simNet, "1", "5550100"); err != nil {
		log.Fatal(err)
	}
	if _, err := simNet.NewUser("447700900001", waenttest.UserOptions{PushName: "Alice"}); err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: shop, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	fmt.Println(`shop on http://127.0.0.1:8080: curl -d '{"phone":"447700900001"}' http://127.0.0.1:8080/orders, then curl -X POST http://127.0.0.1:8080/orders/1/ship`)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// Register registers a number on the simulated network, reading the code
// the network issued, and waits until the client accepts sends. On the
// real network the code arrives by SMS and a person types it in.
func Register(ctx context.Context, c *waent.Client, simNet *waenttest.Network, cc, number string) error {
	if _, err := c.Register(ctx, waent.RegisterRequest{CC: cc, PhoneNumber: number, Method: "sms"}); err != nil {
		return err
	}
	code, ok := simNet.Registration().IssuedCode(cc, number)
	if !ok {
		return errors.New("no code issued")
	}
	if err := c.Verify(ctx, code); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for !c.Ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("client not ready: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}
