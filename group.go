package keysmith

import (
	"time"
	"unicode/utf8"
)

// Group is a set of users. Group admins and group membership admins
// administer the groups they are members of: that is how an org admin gives
// one of them a group to look after.
type Group struct {
	ID          string
	Name        string // unique regardless of case
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// GroupInput is what a caller supplies to create a group, or (with nil
// fields left as they are) to change one.
type GroupInput struct {
	Name        *string
	Description *string
}

// Validate checks the fields that are set; creating needs a name.
func (in *GroupInput) Validate(creating bool) error {
	if in.Name == nil && creating {
		return Errorf(CodeInvalid, "name is required")
	}
	if in.Name != nil {
		if err := validateName("name", *in.Name); err != nil {
			return err
		}
	}
	if in.Description != nil {
		if n := utf8.RuneCountInString(*in.Description); !utf8.ValidString(*in.Description) || n > 1000 {
			return Errorf(CodeInvalid, "description must be valid UTF-8 of at most 1000 characters")
		}
		if err := validateText("description", *in.Description); err != nil {
			return err
		}
	}
	if !creating && in.Name == nil && in.Description == nil {
		return Errorf(CodeInvalid, "nothing to change; send name or description")
	}
	return nil
}

// GroupFilter selects groups for FindGroups.
type GroupFilter struct {
	Page
	Query string // substring of the name, case-insensitive; "" for all
}
