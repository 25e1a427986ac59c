package waent

// UsersConfig tunes the /v1 API users (see users.go).
type UsersConfig struct{}
