# NAT_SANITIZE=address,undefined adds -fsanitize=... to everything built.
if(NAT_SANITIZE)
  set(_san "-fsanitize=${NAT_SANITIZE}")
  add_compile_options(${_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(${_san})
  message(STATUS "libnat: sanitizers ${NAT_SANITIZE}")
endif()
