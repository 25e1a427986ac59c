package waent

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/waent/waent/store"
)

// The profile, business profile, two-step PIN, shards, media providers and
// certificates each live in their own settings document, so that editing
// one never races with editing another.
//
// Gap: the simulated network has no profile service, so about, photo,
// business profile and the two-step PIN are kept locally and not pushed to
// WhatsApp; peers do not see them.
const (
	docAbout           = "profile_about"
	docPhoto           = "profile_photo"
	docBusinessProfile = "business_profile"
	docTwoStep         = "two_step"
	docShards          = "shards"
	docMediaProviders  = "media_providers"
	docWebhookCA       = "webhook_ca"
	docExternalCert    = "external_cert"
)

// Limits of the profile (onprem-api.md §3.8).
const (
	MaxAboutLength = 139
	// MaxProfilePhotoBytes bounds an uploaded profile photo. The photo is
	// stored re-encoded as a JPEG of at most profilePhotoSide pixels a
	// side, far smaller than this.
	MaxProfilePhotoBytes = 5 << 20
	// profilePhotoSide is the side WhatsApp keeps profile photos at.
	profilePhotoSide = 640
	// maxPhotoPixels refuses images whose decoded size would be a memory
	// bomb, whatever their compressed size.
	maxPhotoPixels = 40_000_000
	// maxPEMBytes bounds an uploaded certificate bundle.
	maxPEMBytes = 1 << 20
)

// getDoc reads the document name into v; false when it does not exist.
func (c *Client) getDoc(ctx context.Context, name string, v any) (bool, error) {
	doc, err := c.st.GetSettings(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, newError(CodeDatabase, "", err)
	}
	if err := json.Unmarshal(doc.Value, v); err != nil {
		return false, newError(CodeInternal, "settings document "+name, err)
	}
	return true, nil
}

// updateDoc rewrites the document name with fn, which gets the current
// value (nil when absent), compare-and-swapping so that two instances
// editing it at once cannot lose each other's change.
func (c *Client) updateDoc(ctx context.Context, name string, fn func(cur []byte) (any, error)) error {
	for range 10 {
		var version int64
		var cur []byte
		doc, err := c.st.GetSettings(ctx, name)
		switch {
		case err == nil:
			version, cur = doc.Version, doc.Value
		case !errors.Is(err, store.ErrNotFound):
			return newError(CodeDatabase, "", err)
		}
		next, err := fn(cur)
		if err != nil {
			return err
		}
		b, err := json.Marshal(next)
		if err != nil {
			return newError(CodeInternal, "", err)
		}
		_, err = c.st.PutSettings(ctx, name, b, version, c.now())
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return newError(CodeDatabase, "", err)
		}
		return nil
	}
	return newError(CodeDatabase, "settings changed concurrently too often", nil)
}

// putDoc replaces the document name with v.
func (c *Client) putDoc(ctx context.Context, name string, v any) error {
	return c.updateDoc(ctx, name, func([]byte) (any, error) { return v, nil })
}

// deleteDoc removes the document name; false when there was none.
func (c *Client) deleteDoc(ctx context.Context, name string) (bool, error) {
	err := c.st.DeleteSettings(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, newError(CodeDatabase, "", err)
	}
	return true, nil
}

// About returns the profile's about text ("" until set).
func (c *Client) About(ctx context.Context) (string, error) {
	var doc struct {
		Text string `json:"text"`
	}
	_, err := c.getDoc(ctx, docAbout, &doc)
	return doc.Text, err
}

// SetAbout sets the about text: 1 to 139 characters.
func (c *Client) SetAbout(ctx context.Context, text string) error {
	switch n := utf8.RuneCountInString(text); {
	case text == "":
		return newError(CodeMissingParameter, "Missing mandatory parameter 'text'", nil)
	case !utf8.ValidString(text):
		return newError(CodeInvalidParameter, "Parameter 'text' is not valid UTF-8", nil)
	case n > MaxAboutLength:
		return newError(CodeInvalidParameter, fmt.Sprintf("Parameter 'text' is %d characters long; the maximum is %d", n, MaxAboutLength), nil)
	}
	return c.putDoc(ctx, docAbout, map[string]string{"text": text})
}

// ProfilePhoto returns the profile photo as a JPEG; 1006 when none is set.
func (c *Client) ProfilePhoto(ctx context.Context) ([]byte, error) {
	var doc struct {
		JPEG []byte `json:"jpeg"`
	}
	ok, err := c.getDoc(ctx, docPhoto, &doc)
	if err != nil {
		return nil, err
	}
	if !ok || len(doc.JPEG) == 0 {
		return nil, newError(CodeResourceNotFound, "No profile photo is set", nil)
	}
	return doc.JPEG, nil
}

// SetProfilePhoto sets the profile photo from a JPEG or PNG of at most
// MaxProfilePhotoBytes. It is stored as a JPEG scaled down to 640 pixels
// a side, as WhatsApp keeps it, which also drops any metadata (location
// in EXIF) the upload carried.
func (c *Client) SetProfilePhoto(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return newError(CodeMissingParameter, "No data found", nil)
	}
	if len(data) > MaxProfilePhotoBytes {
		return newError(CodeInvalidParameter, fmt.Sprintf("The photo is larger than %d bytes", MaxProfilePhotoBytes), nil)
	}
	jpg, err := normalizePhoto(data)
	if err != nil {
		return err
	}
	return c.putDoc(ctx, docPhoto, map[string][]byte{"jpeg": jpg})
}

// DeleteProfilePhoto removes the profile photo; removing none is not an
// error.
func (c *Client) DeleteProfilePhoto(ctx context.Context) error {
	_, err := c.deleteDoc(ctx, docPhoto)
	return err
}

func normalizePhoto(data []byte) ([]byte, error) {
	bad := func(why string) error {
		return newError(CodeInvalidParameter, "The photo must be a JPEG or PNG image: "+why, nil)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || (format != "jpeg" && format != "png") {
		return nil, bad("unrecognised image data")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPhotoPixels {
		return nil, bad(fmt.Sprintf("%dx%d pixels is too large", cfg.Width, cfg.Height))
	}
	var img image.Image
	if format == "jpeg" {
		img, err = jpeg.Decode(bytes.NewReader(data))
	} else {
		img, err = png.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, bad("the image is corrupt")
	}
	img = shrink(img, profilePhotoSide)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, img, &jpeg.Options{Quality: 85}); err != nil {
		return nil, newError(CodeInternal, "encode photo", err)
	}
	return out.Bytes(), nil
}

// shrink scales img down (averaging each destination pixel's source box)
// so that neither side exceeds side, flattening transparency onto white
// since JPEG has none.
func shrink(img image.Image, side int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	scale := 1.0
	if m := max(w, h); m > side {
		scale = float64(side) / float64(m)
	}
	dw, dh := max(1, int(float64(w)*scale)), max(1, int(float64(h)*scale))
	src := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(src, src.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(src, src.Bounds(), img, b.Min, draw.Over)
	if dw == w && dh == h {
		return src
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		y0, y1 := y*h/dh, max((y+1)*h/dh, y*h/dh+1)
		for x := range dw {
			x0, x1 := x*w/dw, max((x+1)*w/dw, x*w/dw+1)
			var r, g, bl, n int
			for sy := y0; sy < y1; sy++ {
				row := src.Pix[sy*src.Stride:]
				for sx := x0; sx < x1; sx++ {
					p := row[sx*4:]
					r, g, bl, n = r+int(p[0]), g+int(p[1]), bl+int(p[2]), n+1
				}
			}
			o := dst.Pix[y*dst.Stride+x*4:]
			o[0], o[1], o[2], o[3] = uint8(r/n), uint8(g/n), uint8(bl/n), 255
		}
	}
	return dst
}

// BusinessProfile is the business profile (§3.8).
type BusinessProfile struct {
	Address     string   `json:"address"`
	Description string   `json:"description"`
	Email       string   `json:"email"`
	Vertical    string   `json:"vertical"`
	Websites    []string `json:"websites"`
}

// BusinessProfileUpdate is a partial update: nil fields stay unchanged,
// "" (or an empty Websites) clears one.
type BusinessProfileUpdate struct {
	Address     *string  `json:"address"`
	Description *string  `json:"description"`
	Email       *string  `json:"email"`
	Vertical    *string  `json:"vertical"`
	Websites    []string `json:"websites"`
}

// BusinessVerticals are the allowed values of vertical besides "".
func BusinessVerticals() []string {
	return []string{"Automotive", "Beauty, Spa and Salon", "Clothing and Apparel", "Education", "Entertainment",
		"Event Planning and Service", "Finance and Banking", "Food and Grocery", "Public Service", "Hotel and Lodging",
		"Medical and Health", "Non-profit", "Professional Services", "Shopping and Retail", "Travel and Transportation",
		"Restaurant", "Other"}
}

// BusinessProfile returns the business profile (empty fields until set).
func (c *Client) BusinessProfile(ctx context.Context) (BusinessProfile, error) {
	var p BusinessProfile
	_, err := c.getDoc(ctx, docBusinessProfile, &p)
	if p.Websites == nil {
		p.Websites = []string{}
	}
	return p, err
}

// SetBusinessProfile applies a partial update after checking the §3.8
// limits, and returns the profile now stored.
func (c *Client) SetBusinessProfile(ctx context.Context, u BusinessProfileUpdate) (BusinessProfile, error) {
	if u.Address == nil && u.Description == nil && u.Email == nil && u.Vertical == nil && u.Websites == nil {
		return BusinessProfile{}, newError(CodeMissingParameter,
			"Atleast one of the following parameters must be present: address, description, email, vertical, websites", nil)
	}
	if err := u.validate(); err != nil {
		return BusinessProfile{}, err
	}
	var out BusinessProfile
	err := c.updateDoc(ctx, docBusinessProfile, func(cur []byte) (any, error) {
		var p BusinessProfile
		if cur != nil {
			if err := json.Unmarshal(cur, &p); err != nil {
				return nil, newError(CodeInternal, "business profile", err)
			}
		}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&p.Address, u.Address)
		set(&p.Description, u.Description)
		set(&p.Email, u.Email)
		set(&p.Vertical, u.Vertical)
		if u.Websites != nil {
			p.Websites = slices.Clone(u.Websites)
		}
		if p.Websites == nil {
			p.Websites = []string{}
		}
		out = p
		return p, nil
	})
	return out, err
}

func (u BusinessProfileUpdate) validate() error {
	long := func(name string, v *string, limit int) error {
		if v != nil && utf8.RuneCountInString(*v) > limit {
			return newError(CodeInvalidParameter, fmt.Sprintf("Parameter '%s' is longer than %d characters", name, limit), nil)
		}
		return nil
	}
	if err := errors.Join(long("address", u.Address, 256), long("description", u.Description, 256), long("email", u.Email, 128)); err != nil {
		return firstError(err)
	}
	if u.Email != nil && *u.Email != "" {
		a, err := mail.ParseAddress(*u.Email)
		if err != nil || a.Address != *u.Email || a.Name != "" {
			return newError(CodeInvalidParameter, fmt.Sprintf("Parameter 'email' has invalid value '%s'", *u.Email), nil)
		}
	}
	if u.Vertical != nil && *u.Vertical != "" && !slices.Contains(BusinessVerticals(), *u.Vertical) {
		return newError(CodeInvalidParameter, fmt.Sprintf("Parameter 'vertical' has invalid value '%s'", *u.Vertical), nil)
	}
	if len(u.Websites) > 2 {
		return newError(CodeInvalidParameter, "Max number of websites allowed is 2", nil)
	}
	for _, w := range u.Websites {
		p, err := url.Parse(w)
		if len(w) > 256 || err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return newError(CodeInvalidParameter, fmt.Sprintf("Parameter 'websites' has invalid value '%s'", w), nil)
		}
	}
	return nil
}

// firstError unwraps an errors.Join to its first error.
func firstError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 0 {
		return j.Unwrap()[0]
	}
	return err
}

// twoStepDoc keeps a salted PBKDF2 hash of the PIN, never the PIN. Six
// digits are a small space: the hash only keeps the PIN out of plain
// sight in backups and database dumps.
type twoStepDoc struct {
	Salt []byte `json:"salt"`
	Hash []byte `json:"hash"`
}

const pinIterations = 20_000

func pinHash(pin string, salt []byte) []byte {
	h, _ := pbkdf2.Key(sha256.New, pin, salt, pinIterations, 32)
	return h
}

func validPIN(pin string) bool { return len(pin) == 6 && digitsOnly(pin) == pin }

// SetTwoStepPIN enables two-step verification with a 6-digit PIN, or
// changes the PIN.
func (c *Client) SetTwoStepPIN(ctx context.Context, pin string) error {
	if pin == "" {
		return newError(CodeMissingParameter, "Missing mandatory parameter 'pin'", nil)
	}
	if !validPIN(pin) {
		return newError(CodeInvalidParameter, "Parameter 'pin' must be 6 digits", nil)
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	return c.putDoc(ctx, docTwoStep, twoStepDoc{Salt: salt, Hash: pinHash(pin, salt)})
}

// DisableTwoStep turns two-step verification off; it is not an error when
// it was off.
func (c *Client) DisableTwoStep(ctx context.Context) error {
	_, err := c.deleteDoc(ctx, docTwoStep)
	return err
}

// TwoStepEnabled reports whether a two-step PIN is set.
func (c *Client) TwoStepEnabled(ctx context.Context) (bool, error) {
	var d twoStepDoc
	return c.getDoc(ctx, docTwoStep, &d)
}

// checkTwoStepPIN accepts pin when two-step is off or pin is the one set:
// registration and shards ask for it when two-step is on.
func (c *Client) checkTwoStepPIN(ctx context.Context, pin string) error {
	var d twoStepDoc
	ok, err := c.getDoc(ctx, docTwoStep, &d)
	if err != nil || !ok {
		return err
	}
	if pin == "" {
		return newError(CodeMissingParameter, "Missing mandatory parameter 'pin'", nil)
	}
	if subtle.ConstantTimeCompare(pinHash(pin, d.Salt), d.Hash) != 1 {
		return newError(CodeAccessDenied, "The two-step verification PIN is incorrect", nil)
	}
	return nil
}

// ShardsRequest is the body of POST /v1/account/shards.
type ShardsRequest struct {
	CC          string `json:"cc"`
	PhoneNumber string `json:"phone_number"`
	Shards      int    `json:"shards"`
	Pin         string `json:"pin"`
	Cert        string `json:"cert"`
}

// Shards returns the Multiconnect shard count (1 until set).
func (c *Client) Shards(ctx context.Context) (int, error) {
	var d struct {
		Shards int `json:"shards"`
	}
	ok, err := c.getDoc(ctx, docShards, &d)
	if err != nil || !ok || d.Shards == 0 {
		return 1, err
	}
	return d.Shards, nil
}

// SetShards records the shard count for the registered number. Gap: this
// build has no Multiconnect, so the count is stored and reported but one
// connection still carries all traffic.
func (c *Client) SetShards(ctx context.Context, req ShardsRequest) error {
	for _, p := range []struct{ name, v string }{{"cc", req.CC}, {"phone_number", req.PhoneNumber}, {"cert", req.Cert}} {
		if p.v == "" {
			// cert is mandatory from v2.45, the version this build speaks.
			return newError(CodeMissingParameter, "Missing mandatory parameter '"+p.name+"'", nil)
		}
	}
	if !slices.Contains([]int{1, 2, 4, 8, 16, 32}, req.Shards) {
		return newError(CodeInvalidParameter, fmt.Sprintf("Parameter 'shards' has invalid value '%d'", req.Shards), nil)
	}
	if _, err := base64.StdEncoding.DecodeString(req.Cert); err != nil {
		return newError(CodeInvalidParameter, "Parameter 'cert' is not valid base64", nil)
	}
	waid := c.WAID()
	if waid == "" {
		return newError(CodeServiceNotReady, "the account is not registered", nil)
	}
	if req.CC+req.PhoneNumber != waid {
		return newError(CodeInvalidParameter, fmt.Sprintf("Parameter 'phone_number' has invalid value '%s': it is not the registered number", req.PhoneNumber), nil)
	}
	if err := c.checkTwoStepPIN(ctx, req.Pin); err != nil {
		return err
	}
	return c.putDoc(ctx, docShards, map[string]int{"shards": req.Shards})
}

// MediaProvider is a media provider (§3.7): credentials for fetching the
// media links of outgoing messages.
type MediaProvider struct {
	Name   string              `json:"name"`
	Type   string              `json:"type"`
	Config MediaProviderConfig `json:"config"`
}

// MediaProviderConfig holds exactly one of Basic and Bearer.
type MediaProviderConfig struct {
	Basic  *BasicAuth `json:"basic,omitempty"`
	Bearer string     `json:"bearer,omitempty"`
}

// BasicAuth is HTTP Basic credentials.
type BasicAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Authorization is the Authorization header value for the provider.
func (p MediaProvider) Authorization() string {
	if p.Config.Basic != nil {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(p.Config.Basic.Username+":"+p.Config.Basic.Password))
	}
	return "Bearer " + p.Config.Bearer
}

func (p MediaProvider) validate() error {
	miss := func(n string) error {
		return newError(CodeMissingParameter, "Missing mandatory parameter '"+n+"'", nil)
	}
	switch {
	case p.Name == "":
		return miss("name")
	case len(p.Name) > 200 || strings.Trim(p.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "":
		return newError(CodeInvalidParameter, fmt.Sprintf("Parameter 'name' has invalid value '%s'", p.Name), nil)
	case p.Type == "":
		return miss("type")
	case p.Type != "www":
		return newError(CodeInvalidParameter, fmt.Sprintf("Parameter 'type' has invalid value '%s'", p.Type), nil)
	case p.Config.Basic == nil && p.Config.Bearer == "":
		return newError(CodeMissingParameter, "Atleast one of the following parameters must be present: config.basic, config.bearer", nil)
	case p.Config.Basic != nil && p.Config.Bearer != "":
		return newError(CodeParamNotRequired, "Exactly one of the following parameters must be present: config.basic, config.bearer", nil)
	case p.Config.Basic != nil && p.Config.Basic.Username == "":
		return miss("config.basic.username")
	case p.Config.Basic != nil && p.Config.Basic.Password == "":
		return miss("config.basic.password")
	}
	return nil
}

type providersDoc struct {
	Providers []MediaProvider `json:"providers"`
}

// MediaProviders returns the media providers, in the order they were
// first set.
func (c *Client) MediaProviders(ctx context.Context) ([]MediaProvider, error) {
	var d providersDoc
	_, err := c.getDoc(ctx, docMediaProviders, &d)
	if d.Providers == nil {
		d.Providers = []MediaProvider{}
	}
	return d.Providers, err
}

// SetMediaProvider adds p, or replaces the provider of the same name.
func (c *Client) SetMediaProvider(ctx context.Context, p MediaProvider) error {
	if err := p.validate(); err != nil {
		return err
	}
	return c.updateDoc(ctx, docMediaProviders, func(cur []byte) (any, error) {
		var d providersDoc
		if cur != nil {
			if err := json.Unmarshal(cur, &d); err != nil {
				return nil, newError(CodeInternal, "media providers", err)
			}
		}
		i := slices.IndexFunc(d.Providers, func(q MediaProvider) bool { return q.Name == p.Name })
		if i >= 0 {
			d.Providers[i] = p
		} else {
			d.Providers = append(d.Providers, p)
		}
		return d, nil
	})
}

// DeleteMediaProvider removes the provider name; 1006 when there is none.
func (c *Client) DeleteMediaProvider(ctx context.Context, name string) error {
	return c.updateDoc(ctx, docMediaProviders, func(cur []byte) (any, error) {
		var d providersDoc
		if cur != nil {
			if err := json.Unmarshal(cur, &d); err != nil {
				return nil, newError(CodeInternal, "media providers", err)
			}
		}
		i := slices.IndexFunc(d.Providers, func(q MediaProvider) bool { return q.Name == name })
		if i < 0 {
			return nil, newError(CodeResourceNotFound, fmt.Sprintf("Media provider '%s' not found", name), nil)
		}
		d.Providers = slices.Delete(d.Providers, i, i+1)
		return d, nil
	})
}

type pemDoc struct {
	PEM string `json:"pem"`
}

// WebhookCA returns the uploaded webhook CA bundle; 1006 when none.
func (c *Client) WebhookCA(ctx context.Context) ([]byte, error) {
	var d pemDoc
	ok, err := c.getDoc(ctx, docWebhookCA, &d)
	if err != nil {
		return nil, err
	}
	if !ok || d.PEM == "" {
		return nil, newError(CodeResourceNotFound, "No webhook CA certificate is set", nil)
	}
	return []byte(d.PEM), nil
}

// SetWebhookCA stores the CA certificates (one or more PEM CERTIFICATE
// blocks) the webhook server's certificate chains to, replacing any
// earlier bundle.
func (c *Client) SetWebhookCA(ctx context.Context, bundle []byte) error {
	blocks, err := pemBlocks(bundle)
	if err != nil {
		return err
	}
	if len(blocks) == 0 {
		return newError(CodeInvalidParameter, "The upload contains no PEM certificate", nil)
	}
	for i, b := range blocks {
		if b.Type != "CERTIFICATE" {
			return newError(CodeInvalidParameter, fmt.Sprintf("PEM section %d is a %s, not a CERTIFICATE", i+1, b.Type), nil)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return newError(CodeInvalidParameter, fmt.Sprintf("PEM section %d is not a valid certificate: %v", i+1, err), nil)
		}
	}
	return c.putDoc(ctx, docWebhookCA, pemDoc{PEM: string(encodeBlocks(blocks))})
}

// DeleteWebhookCA removes the uploaded bundle; none is not an error.
func (c *Client) DeleteWebhookCA(ctx context.Context) error {
	_, err := c.deleteDoc(ctx, docWebhookCA)
	return err
}

// webhookCAPEM is every root the webhook sink trusts beyond the system
// pool: Config.WebhookCACertPEM plus the uploaded bundle. A store failure
// leaves the uploaded part out (and is logged): the sink then fails the
// TLS handshake and retries, which is what an unreadable CA should do.
func (c *Client) webhookCAPEM(ctx context.Context) []byte {
	out := slices.Clone(c.cfg.WebhookCACertPEM)
	up, err := c.WebhookCA(ctx)
	var we *Error
	if err != nil && !(errors.As(err, &we) && we.Code == CodeResourceNotFound) {
		c.log.Warn("read webhook CA", "err", err)
	}
	if len(up) > 0 {
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = append(out, up...)
	}
	return out
}

// SetExternalCert stores the webapp's HTTPS certificate: one PEM file
// holding, in order, the private key, the certificate and at least one
// intermediate CA certificate. The key must match the certificate, which
// must be current and signed by the first intermediate. The file is kept
// in the settings store (private key included, as On-Premises kept it on
// its volume); whoever serves HTTPS reads it with ExternalCert.
func (c *Client) SetExternalCert(ctx context.Context, bundle []byte) error {
	blocks, err := pemBlocks(bundle)
	if err != nil {
		return err
	}
	if len(blocks) < 3 {
		return newError(CodeInvalidParameter, fmt.Sprintf("The file must contain the private key, the certificate and at least one intermediate CA certificate (found %d PEM sections)", len(blocks)), nil)
	}
	if !strings.HasSuffix(blocks[0].Type, "PRIVATE KEY") {
		return newError(CodeInvalidParameter, "The first PEM section must be the private key, not a "+blocks[0].Type, nil)
	}
	certs := make([]*x509.Certificate, 0, len(blocks)-1)
	for i, b := range blocks[1:] {
		if b.Type != "CERTIFICATE" {
			return newError(CodeInvalidParameter, fmt.Sprintf("PEM section %d is a %s, not a CERTIFICATE", i+2, b.Type), nil)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return newError(CodeInvalidParameter, fmt.Sprintf("PEM section %d is not a valid certificate: %v", i+2, err), nil)
		}
		certs = append(certs, cert)
	}
	if _, err := tls.X509KeyPair(encodeBlocks(blocks[1:]), encodeBlocks(blocks[:1])); err != nil {
		return newError(CodeInvalidParameter, "The private key does not match the certificate: "+err.Error(), nil)
	}
	leaf, now := certs[0], c.now()
	if now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return newError(CodeInvalidParameter, "The certificate is not valid now (valid "+leaf.NotBefore.UTC().Format("2006-01-02")+" to "+leaf.NotAfter.UTC().Format("2006-01-02")+")", nil)
	}
	if err := leaf.CheckSignatureFrom(certs[1]); err != nil {
		return newError(CodeInvalidParameter, "The certificate is not signed by the intermediate CA that follows it: "+err.Error(), nil)
	}
	return c.putDoc(ctx, docExternalCert, pemDoc{PEM: string(encodeBlocks(blocks))})
}

// ExternalCert returns the uploaded webapp certificate with its chain,
// for a tls.Config; 1006 when none was uploaded.
func (c *Client) ExternalCert(ctx context.Context) (tls.Certificate, error) {
	blocks, err := c.externalBlocks(ctx)
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := tls.X509KeyPair(encodeBlocks(blocks[1:]), encodeBlocks(blocks[:1]))
	if err != nil {
		return tls.Certificate{}, newError(CodeInternal, "stored external certificate", err)
	}
	return cert, nil
}

// ExternalCA returns the CA certificates of the uploaded webapp
// certificate (everything after the leaf), which clients add to their
// trust store; 1006 when none was uploaded. This build does not make a
// self-signed certificate of its own, so there is nothing to return
// before an upload.
func (c *Client) ExternalCA(ctx context.Context) ([]byte, error) {
	blocks, err := c.externalBlocks(ctx)
	if err != nil {
		return nil, err
	}
	return encodeBlocks(blocks[2:]), nil
}

func (c *Client) externalBlocks(ctx context.Context) ([]*pem.Block, error) {
	var d pemDoc
	ok, err := c.getDoc(ctx, docExternalCert, &d)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, newError(CodeResourceNotFound, "No external certificate is set", nil)
	}
	blocks, err := pemBlocks([]byte(d.PEM))
	if err != nil || len(blocks) < 3 {
		return nil, newError(CodeInternal, "stored external certificate is damaged", err)
	}
	return blocks, nil
}

// pemBlocks splits a PEM file into its sections, refusing anything else in
// it: a stray line is more likely a broken paste than a comment.
func pemBlocks(data []byte) ([]*pem.Block, error) {
	if len(data) > maxPEMBytes {
		return nil, newError(CodeInvalidParameter, fmt.Sprintf("The upload is larger than %d bytes", maxPEMBytes), nil)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, newError(CodeMissingParameter, "No data found", nil)
	}
	var blocks []*pem.Block
	rest := data
	for {
		b, next := pem.Decode(rest)
		if b == nil {
			if len(bytes.TrimSpace(rest)) > 0 {
				return nil, newError(CodeInvalidParameter, "The upload is not a PEM file (or has text outside its PEM sections)", nil)
			}
			return blocks, nil
		}
		if pre := rest[:len(rest)-len(next)]; !bytes.HasPrefix(bytes.TrimSpace(pre), []byte("-----BEGIN")) {
			return nil, newError(CodeInvalidParameter, "The upload has text outside its PEM sections", nil)
		}
		if b.Headers["Proc-Type"] != "" {
			return nil, newError(CodeInvalidParameter, "Encrypted PEM sections are not supported", nil)
		}
		blocks = append(blocks, b)
		rest = next
	}
}

func encodeBlocks(blocks []*pem.Block) []byte {
	var out bytes.Buffer
	for _, b := range blocks {
		_ = pem.Encode(&out, b)
	}
	return out.Bytes()
}
