%% Evaluated inside the ejabberd node right after it started (erl ... -s ejabberd
%% -eval 'file:script(...)'), with the bindings Csv, Host and Done (paths / host as
%% strings). Reads the population CSV of `xmesh-loadgen gen-population`
%% (username,scram1:ITER:SALT:SHA1_STORED:SHA1_SERVER:SHA256_STORED:SHA256_SERVER,contacts)
%% and writes mnesia rows directly: one passwd row with the SCRAM-SHA-1 stored secrets
%% (ejabberd keeps them base64-encoded, as the CSV does, so they are copied as they are)
%% and one roster row per contact with subscription both. Thousands of users with 100
%% contacts each take seconds this way, against hours through ejabberdctl.
%% Record layouts: #passwd{us, password} (ejabberd_auth.hrl), #scram{storedkey,
%% serverkey, salt, hash, iterationcount} (p1_xmpp scram.hrl), #roster{usj, us, jid,
%% name, subscription, ask, groups, askmessage, xs} (mod_roster.hrl) - checked below.
[us, password] = mnesia:table_info(passwd, attributes),
[usj, us, jid, name, subscription, ask, groups, askmessage, xs] = mnesia:table_info(roster, attributes),
H = list_to_binary(Host),
{ok, F} = file:open(Csv, [read, binary, raw, {read_ahead, 1 bsl 20}]),
Contact = fun(J) -> [CU, CH] = binary:split(J, <<"@">>), {CU, CH, <<>>} end,
Loop = fun Loop(Users, Items) ->
  case file:read_line(F) of
    eof -> {Users, Items};
    {ok, Line0} ->
      case string:trim(Line0, trailing, "\r\n") of
        <<>> -> Loop(Users, Items);
        <<"#", _/binary>> -> Loop(Users, Items);
        Line ->
          [U | Rest] = binary:split(Line, <<",">>, [global]),
          [Secret, Contacts] = [hd(Rest), lists:last(Rest)],
          [<<"scram1">>, Iter, Salt, Stored1, Server1 | _] = binary:split(Secret, <<":">>, [global]),
          ok = mnesia:dirty_write({passwd, {U, H},
                                   {scram, Stored1, Server1, Salt, sha, binary_to_integer(Iter)}}),
          Js = [J || J <- binary:split(Contacts, <<";">>, [global]), J =/= <<>>],
          lists:foreach(fun(J) ->
                            CJ = Contact(J),
                            ok = mnesia:dirty_write({roster, {U, H, CJ}, {U, H}, CJ, <<>>, both,
                                                     none, [], <<>>, []})
                        end, Js),
          Loop(Users + 1, Items + length(Js))
      end
  end
end,
{NU, NI} = Loop(0, 0),
file:close(F),
ok = file:write_file(Done, io_lib:format("~b users, ~b roster items~n", [NU, NI])).
