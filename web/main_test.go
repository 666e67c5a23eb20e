package web_test

import (
	"testing"

	"github.com/keysmith/keysmith/web/webtest"
)

// One Chromium serves every browser test of the package.
func TestMain(m *testing.M) { webtest.Main(m) }
