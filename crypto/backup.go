package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// A sealed backup is
//
//	magic "WAEB" | version 1 | kdf 1 (argon2id) | time u32 | memory u32 (KiB) |
//	threads u8 | salt length u8 | salt | nonce (12) | AES-256-GCM ciphertext
//
// with every byte before the ciphertext authenticated as additional data,
// so the parameters travel with the blob (they can be raised later
// without breaking old backups) and cannot be altered to weaken or break
// the opening of an existing one.
const (
	backupMagic     = "WAEB"
	backupVersion   = 1
	backupKDFArgon2 = 1
	backupSaltLen   = 16
	backupNonceLen  = 12
	backupKeyLen    = 32
	// backupMaxMemory (KiB) and backupMaxTime bound what a header may ask
	// for, so a forged blob cannot make a restore allocate gigabytes or
	// spin for minutes before failing.
	backupMaxMemory  = 1 << 20 // 1 GiB
	backupMaxTime    = 64
	backupMaxThreads = 64
)

// Errors of OpenBackup.
var (
	// ErrBackupFormat: the bytes are not a sealed backup this build reads.
	ErrBackupFormat = errors.New("crypto: not a backup this version can read")
	// ErrBackupAuth: the password is wrong or the blob was altered; AES-GCM
	// cannot tell the two apart.
	ErrBackupAuth = errors.New("crypto: wrong backup password or corrupt backup")
)

// BackupParams are the argon2id costs of the key that seals a backup.
type BackupParams struct {
	Time    uint32 // passes over memory
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultBackupParams is RFC 9106's second recommended argon2id setting
// (3 passes, 64 MiB, 4 lanes): a backup carries the account's private
// keys and its password is exposed to offline guessing by whoever holds
// the blob.
func DefaultBackupParams() BackupParams {
	return BackupParams{Time: 3, Memory: 64 * 1024, Threads: 4}
}

func (p BackupParams) validate() error {
	switch {
	case p.Time == 0 || p.Time > backupMaxTime:
		return fmt.Errorf("argon2id time %d out of range 1..%d", p.Time, backupMaxTime)
	case p.Threads == 0 || p.Threads > backupMaxThreads:
		return fmt.Errorf("argon2id threads %d out of range 1..%d", p.Threads, backupMaxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > backupMaxMemory:
		return fmt.Errorf("argon2id memory %d KiB out of range %d..%d", p.Memory, 8*uint32(p.Threads), backupMaxMemory)
	}
	return nil
}

// SealBackup encrypts plaintext under a key derived from password with
// argon2id (p, a fresh random salt) and AES-256-GCM (a fresh random
// nonce).
func SealBackup(plaintext []byte, password string, p BackupParams) ([]byte, error) {
	if password == "" {
		return nil, errors.New("crypto: empty backup password")
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("crypto: backup: %w", err)
	}
	salt := make([]byte, backupSaltLen)
	nonce := make([]byte, backupNonceLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("crypto: backup salt: %w", err)
	}
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("crypto: backup nonce: %w", err)
	}
	var h bytes.Buffer
	h.WriteString(backupMagic)
	h.WriteByte(backupVersion)
	h.WriteByte(backupKDFArgon2)
	_ = binary.Write(&h, binary.BigEndian, p.Time)
	_ = binary.Write(&h, binary.BigEndian, p.Memory)
	h.WriteByte(p.Threads)
	h.WriteByte(byte(len(salt)))
	h.Write(salt)
	h.Write(nonce)
	header := h.Bytes()
	aead, err := backupAEAD(password, salt, p)
	if err != nil {
		return nil, err
	}
	return aead.Seal(header, nonce, plaintext, header), nil
}

// OpenBackup decrypts what SealBackup produced. A malformed header is
// ErrBackupFormat; a wrong password or any altered byte is ErrBackupAuth.
func OpenBackup(sealed []byte, password string) ([]byte, error) {
	r := sealed
	take := func(n int) ([]byte, bool) {
		if len(r) < n {
			return nil, false
		}
		b := r[:n]
		r = r[n:]
		return b, true
	}
	magic, ok := take(len(backupMagic))
	if !ok || string(magic) != backupMagic {
		return nil, fmt.Errorf("%w: missing header", ErrBackupFormat)
	}
	vk, ok := take(2)
	if !ok || vk[0] != backupVersion || vk[1] != backupKDFArgon2 {
		return nil, fmt.Errorf("%w: unknown version", ErrBackupFormat)
	}
	fixed, ok := take(4 + 4 + 1 + 1)
	if !ok {
		return nil, fmt.Errorf("%w: truncated header", ErrBackupFormat)
	}
	p := BackupParams{Time: binary.BigEndian.Uint32(fixed[0:4]), Memory: binary.BigEndian.Uint32(fixed[4:8]), Threads: fixed[8]}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBackupFormat, err)
	}
	saltLen := int(fixed[9])
	if saltLen < backupSaltLen {
		return nil, fmt.Errorf("%w: salt of %d bytes", ErrBackupFormat, saltLen)
	}
	salt, ok := take(saltLen)
	if !ok {
		return nil, fmt.Errorf("%w: truncated header", ErrBackupFormat)
	}
	nonce, ok := take(backupNonceLen)
	if !ok {
		return nil, fmt.Errorf("%w: truncated header", ErrBackupFormat)
	}
	header := sealed[:len(sealed)-len(r)]
	if len(r) < 16 {
		return nil, fmt.Errorf("%w: truncated ciphertext", ErrBackupFormat)
	}
	aead, err := backupAEAD(password, salt, p)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, nonce, r, header)
	if err != nil {
		return nil, ErrBackupAuth
	}
	return plain, nil
}

func backupAEAD(password string, salt []byte, p BackupParams) (cipher.AEAD, error) {
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, backupKeyLen)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("crypto: backup cipher: %w", err)
	}
	return cipher.NewGCM(block)
}
