package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"reflect"

	"github.com/keysmith/keysmith"
)

// The store's own defence against text that is not text: every statement
// argument that is a string (or a named string type, a pointer to one, or a
// driver.Valuer answering one) is checked by keysmith.CheckText before the
// driver sees it, and refused with CodeInvalid. PostgreSQL's driver would
// fail on NUL or invalid UTF-8 (a 500), SQLite's would store it (so the two
// engines answered one request differently). The HTTP layer refuses such
// strings first, naming the field; this catches any path that forgets.

// openChecked opens a pool like sql.Open(driverName, dsn), with every
// connection's arguments checked.
func openChecked(driverName, dsn string) (*sql.DB, error) {
	probe, err := sql.Open(driverName, dsn) // connects to nothing: it only finds the driver
	if err != nil {
		return nil, err
	}
	drv := probe.Driver()
	probe.Close()
	var c driver.Connector = dsnConnector{dsn, drv}
	if dc, ok := drv.(driver.DriverContext); ok {
		if c, err = dc.OpenConnector(dsn); err != nil {
			return nil, err
		}
	}
	return sql.OpenDB(textConnector{c}), nil
}

// dsnConnector is a driver.Connector for a driver without one of its own.
type dsnConnector struct {
	dsn string
	drv driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

// textConnector makes connections whose arguments are checked.
type textConnector struct{ driver.Connector }

func (c textConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	tc, ok := conn.(contextConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("store: the %T driver's connections lack the context methods", c.Driver())
	}
	return textConn{tc}, nil
}

// Close closes the driver's connector, if it has anything to close.
func (c textConnector) Close() error {
	if cl, ok := c.Connector.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// contextConn is what both engines' driver connections implement, and what
// textConn passes on.
type contextConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
}

// textConn is a driver connection whose statement arguments database/sql
// hands to CheckNamedValue first. It passes everything else on; the
// optional interfaces it implements beyond contextConn answer as
// database/sql would without them.
type textConn struct{ contextConn }

// CheckNamedValue refuses an argument that is not valid text, then lets the
// driver check it as it would have (or database/sql's default, on
// driver.ErrSkip).
func (c textConn) CheckNamedValue(nv *driver.NamedValue) error {
	if err := checkArg(nv.Value); err != nil {
		return err
	}
	if ch, ok := c.contextConn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (c textConn) Ping(ctx context.Context) error {
	if p, ok := c.contextConn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c textConn) ResetSession(ctx context.Context) error {
	if r, ok := c.contextConn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c textConn) IsValid() bool {
	if v, ok := c.contextConn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// checkArg returns a CodeInvalid error if v is, or holds, a string that is
// not valid text.
func checkArg(v any) error {
	if val, ok := v.(driver.Valuer); ok {
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return nil
		}
		dv, err := val.Value()
		if err != nil {
			return nil // the driver reports it
		}
		v = dv
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.String {
		return nil
	}
	return keysmith.CheckText("a text value", rv.String())
}
