# The project's warning set, clean in CI; -Werror with NAT_WERROR=ON.
set(NAT_WARNING_FLAGS
    -Wall -Wextra -Wshadow -Wconversion -Wstrict-prototypes
    -Wmissing-prototypes -Wvla)
if(NAT_WERROR)
  list(APPEND NAT_WARNING_FLAGS -Werror)
endif()

# nat_target_warnings(target): apply the project's warnings to target.
function(nat_target_warnings target)
  target_compile_options(${target} PRIVATE ${NAT_WARNING_FLAGS})
endfunction()
